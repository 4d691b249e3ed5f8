using System.Text;
using FluentAssertions;
using PaymentSlices.Api.Webhooks;
using Storefront.Webhooks;

namespace PaymentSlices.Tests.Webhooks;

/// <summary>
/// The README's receiver code is the code the webhook tests verify deliveries with; these tests keep the two the same
/// and show the verifier rejects what a receiver must reject.
/// </summary>
public sealed class ReadmeSignatureTests
{
    private const string Secret = "whsec_readme-test-secret-0123456789";
    private const string Body = """{"id":"evt_1","object":"event","type":"order.paid","data":{"object":{"amount":1999}}}""";
    private static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    [Fact]
    public void The_readme_shows_the_tested_verifier_verbatim()
    {
        var root = Repository.Root;
        var source = File.ReadAllText(Path.Combine(root, "tests", "PaymentSlices.Tests", "Webhooks", "PaymentSlicesSignature.cs"));
        var begin = source.IndexOf("// readme:begin\n", StringComparison.Ordinal);
        var end = source.IndexOf("// readme:end", StringComparison.Ordinal);
        begin.Should().BeGreaterThan(-1);
        end.Should().BeGreaterThan(begin);
        var verifier = source[(begin + "// readme:begin\n".Length)..end].Replace("\r\n", "\n", StringComparison.Ordinal);

        var readme = File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n", StringComparison.Ordinal);

        readme.Should().Contain("```csharp\n" + verifier + "```", "the README's verifier must be the one the tests run");
    }

    [Fact]
    public void A_header_the_service_makes_is_accepted()
    {
        var now = DateTimeOffset.UtcNow;
        var header = WebhookSignature.Create(Secret, now.ToUnixTimeSeconds(), Encoding.UTF8.GetBytes(Body));

        PaymentSlicesSignature.IsValid(header, Body, Secret, Tolerance, now).Should().BeTrue();
        PaymentSlicesSignature.IsValid(header, Body, Secret, Tolerance, now.AddMinutes(4)).Should().BeTrue();
    }

    [Fact]
    public void A_tampered_body_a_wrong_secret_or_an_old_timestamp_is_rejected()
    {
        var now = DateTimeOffset.UtcNow;
        var header = WebhookSignature.Create(Secret, now.ToUnixTimeSeconds(), Encoding.UTF8.GetBytes(Body));
        var old = WebhookSignature.Create(Secret, now.AddMinutes(-6).ToUnixTimeSeconds(), Encoding.UTF8.GetBytes(Body));

        PaymentSlicesSignature.IsValid(header, Body.Replace("1999", "1", StringComparison.Ordinal), Secret, Tolerance, now).Should().BeFalse();
        PaymentSlicesSignature.IsValid(header, Body, "whsec_some-other-secret-0123456789", Tolerance, now).Should().BeFalse();
        PaymentSlicesSignature.IsValid(old, Body, Secret, Tolerance, now).Should().BeFalse();
        PaymentSlicesSignature.IsValid(header.Replace("t=", "t=1", StringComparison.Ordinal), Body, Secret, Tolerance, now).Should().BeFalse();
        PaymentSlicesSignature.IsValid(null, Body, Secret, Tolerance, now).Should().BeFalse();
        PaymentSlicesSignature.IsValid("v1=" + header.Split("v1=")[1], Body, Secret, Tolerance, now).Should().BeFalse();
    }
}
