using System.Security.Cryptography;
using System.Text;
using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.ConfirmPaymentIntent;

/// <summary>
/// The confirm's <c>client_secret</c>, checked before its other fields are validated: a caller that does not hold the
/// intent's secret hears 403 whatever else is wrong with its body, as Stripe answers, and learns nothing of the input
/// rules. An unknown intent, or a body without a secret, goes on as before: validation (400), then the handler (404).
/// </summary>
public static class ConfirmPaymentIntentSecret
{
    /// <summary>Null when the confirm may go on; the 403 when the secret is not the intent's.</summary>
    public sealed record Query(string IntentId, string? ClientSecret) : IRequest<ApiError?>
    {
        /// <summary>Never the secret.</summary>
        public override string ToString() => $"ConfirmPaymentIntentSecret.Query({IntentId})";
    }

    public sealed class Handler(Db db) : IRequestHandler<Query, ApiError?>
    {
        private const string SelectSecret = "SELECT client_secret FROM payment_intents WHERE id = @IntentId";

        public async Task<ApiError?> Handle(Query query, CancellationToken cancellationToken)
        {
            if (string.IsNullOrEmpty(query.ClientSecret))
            {
                return null; // a missing secret is a validation error about the field
            }

            var connection = await db.OpenAsync(cancellationToken);
            var expected = await connection.QuerySingleOrDefaultAsync<string>(db.Command(SelectSecret, query, cancellationToken));
            return expected is null || Matches(expected, query.ClientSecret) ? null : Forbidden();
        }
    }

    /// <summary>The 403 for a secret that is not the intent's (here, and again in the confirm's own handler).</summary>
    internal static ApiError Forbidden() =>
        new(StatusCodes.Status403Forbidden, "invalid_client_secret", "Forbidden", "The client_secret does not match this payment intent.");

    // Digests of equal length, compared in constant time: neither the secret's content nor its length leaks.
    internal static bool Matches(string expected, string presented) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(expected)), SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
}
