using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace PaymentSlices.Api.Pipeline;

/// <summary>
/// A business failure a handler returns as a value (not found, already paid, declined): the stable
/// <see cref="Code"/> and the status it is answered with, as problem+json.
/// </summary>
public sealed record ApiError(int Status, string Code, string Title, string Detail)
{
    /// <summary>Field name (snake_case, dotted path) to messages, for errors about specific input.</summary>
    public IReadOnlyDictionary<string, string[]>? Errors { get; init; }

    /// <summary>Further members of the problem object, e.g. <c>decline_code</c> or <c>refundable_amount</c>.</summary>
    public IReadOnlyDictionary<string, object?>? Extensions { get; init; }

    public static ApiError NotFound(string code, string detail) =>
        new(StatusCodes.Status404NotFound, code, "Not found", detail);

    public static ApiError Conflict(string code, string detail) =>
        new(StatusCodes.Status409Conflict, code, "Conflict", detail);

    /// <summary>A 400 about one input field.</summary>
    public static ApiError InvalidField(string code, string title, string field, string message) =>
        new(StatusCodes.Status400BadRequest, code, title, message) { Errors = new Dictionary<string, string[]> { [field] = [message] } };

    public ProblemHttpResult ToProblem()
    {
        var problem = new ProblemDetails { Status = Status, Title = Title, Detail = Detail };
        problem.Extensions[ErrorEnvelope.CodeKey] = Code;
        foreach (var (key, value) in Extensions ?? new Dictionary<string, object?>())
        {
            problem.Extensions[key] = value;
        }

        if (Errors is not null)
        {
            problem.Extensions[ErrorEnvelope.ErrorsKey] = Errors;
        }

        return TypedResults.Problem(problem);
    }
}

/// <summary>Either the value a handler produced or the <see cref="ApiError"/> it ended with.</summary>
public readonly record struct ApiResult<T>
{
    private ApiResult(T? value, ApiError? error) => (Value, Error) = (value, error);

    public T? Value { get; }

    public ApiError? Error { get; }

    public static implicit operator ApiResult<T>(T value) => new(value, null);

    public static implicit operator ApiResult<T>(ApiError error) => new(default, error);
}
