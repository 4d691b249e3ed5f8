using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;
using PaymentSlices.Tests.Operations;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace PaymentSlices.Tests.Reference;

/// <summary>The service on a real Kestrel socket on 127.0.0.1, for a real browser.</summary>
public class KestrelApiFactory : ApiFactory
{
    public KestrelApiFactory()
    {
        UseKestrel(options => options.Listen(IPAddress.Loopback, Port));
        StartServer();
    }

    /// <summary>0: any free port. Read while the base constructor starts the server, so an override may only use field initializers.</summary>
    protected virtual int Port => 0;

    public Uri BaseAddress => new(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public HttpClient Api(string key = StorefrontKey) =>
        new() { BaseAddress = BaseAddress, DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", key) } };
}

/// <summary>
/// Headless Chromium (Debian's chromium and chromedriver; `.ci/run` installs them), with every host but
/// 127.0.0.1 unresolvable, as on a machine without internet.
/// </summary>
public sealed class BrowserTests(KestrelApiFactory factory) : IClassFixture<KestrelApiFactory>
{
    private const string Chromium = "/usr/bin/chromium";
    private const string ChromeDriver = "/usr/bin/chromedriver";

    [Fact]
    public void ApiReference_ListsEveryOperation_WithNoFailedRequestAndNoConsoleError()
    {
        using var browser = Browser();

        browser.Navigate().GoToUrl(new Uri(factory.BaseAddress, "/"));

        browser.Url.Should().EndWith("/scalar/v1");
        var summaries = new[]
        {
            "Create an order", "Get an order", "Pay an order", "Create the payment intent of an order", "Confirm a payment intent",
            "Mark an order paid", "Create a payment", "Get a payment", "Refund a payment", "Get a refund",
            "Create a customer with a saved card", "Get a customer", "The sandbox's 3-D Secure page",
        };
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(60));
        wait.Until(driver => summaries.All(summary => driver.FindElement(By.TagName("body")).Text.Contains(summary, StringComparison.Ordinal)));

        var network = NetworkLog(browser);
        FailedRequests(network).Should().BeEmpty("the reference loads everything from the service itself");
        var requested = PageRequests(network).Where(url => url.StartsWith("http", StringComparison.Ordinal)).ToList();
        requested.Should().Contain(url => url.EndsWith("/scalar/standalone.js", StringComparison.Ordinal))
            .And.Contain(url => url.EndsWith("/openapi/v1.json", StringComparison.Ordinal))
            .And.OnlyContain(url => url.StartsWith(factory.BaseAddress.ToString().TrimEnd('/'), StringComparison.Ordinal),
                "every request the page makes goes to the service, none outside");
        browser.Manage().Logs.GetLog(LogType.Browser).Where(entry => entry.Level == LogLevel.Severe).Select(entry => entry.Message)
            .Should().BeEmpty("the reference logs no console error");
    }

    [Fact]
    public async Task TryIt_SendsTheSeedExampleWithTheDevelopmentKey()
    {
        const string Count = "SELECT COUNT(*) FROM orders WHERE email = 'johndoe@rapyd.net' AND amount = 41000";
        var before = await factory.ScalarAsync<long>(Count);
        using var browser = Browser();
        browser.Navigate().GoToUrl(new Uri(factory.BaseAddress, "/scalar/v1"));
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(60)) { PollingInterval = TimeSpan.FromMilliseconds(250) };

        // "Create an order", the first operation, with its example (seed 001's items): its "Test Request" button
        // carries a screen-reader label with the method and path; the client's "Send" sends it.
        var testRequest = wait.Until(driver => driver.FindElements(By.XPath("//button[.//span[normalize-space(.)='(post /v1/orders)']]")).FirstOrDefault());
        browser.ExecuteScript("arguments[0].scrollIntoView({block: 'center'});", testRequest);
        testRequest.Click();
        var send = wait.Until(driver => driver.FindElements(By.XPath("//button[starts-with(normalize-space(.), 'Send')]")).FirstOrDefault(button => button.Displayed));
        send.Click();

        wait.Until(_ => factory.ScalarAsync<long>(Count).GetAwaiter().GetResult() > before);
        (await factory.ScalarAsync<long>(Count)).Should().Be(before + 1, "the example was sent once, with the pre-filled Development key");
    }

    [Fact]
    public async Task ThreeDSecurePage_CompletesThePaymentWhenTheCardholderClicks()
    {
        var api = factory.Api();
        var created = await api.PostAsJsonAsync("/v1/payments", new { amount = 25m, currency = "EUR", source = Api.Card("4000002500003155") });
        var payment = await created.ShouldBe(HttpStatusCode.Created);
        payment.Str("status").Should().Be("requires_action");
        using var browser = Browser();

        browser.Navigate().GoToUrl(new Uri(factory.BaseAddress, payment.Str("redirect_url")));
        browser.FindElement(By.Id("complete")).Click();
        new WebDriverWait(browser, TimeSpan.FromSeconds(20)).Until(driver => driver.FindElements(By.Id("status")).Count > 0);

        browser.FindElement(By.Id("status")).Text.Should().Be("succeeded");
        var read = await (await api.GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK);
        read.Str("status").Should().Be("succeeded");
        FailedRequests(NetworkLog(browser)).Should().BeEmpty();
    }

    /// <param name="publicHost">A host name that Chromium resolves to 127.0.0.1, as a public name in front of the service would.</param>
    internal static ChromeDriver Browser(string? publicHost = null)
    {
        File.Exists(Chromium).Should().BeTrue("browser tests need Debian's Chromium: apt-get install -y chromium chromium-driver (.ci/run does this)");
        File.Exists(ChromeDriver).Should().BeTrue("browser tests need Debian's chromedriver: apt-get install -y chromium-driver");
        Environment.SetEnvironmentVariable("SE_OFFLINE", "true"); // never let Selenium Manager download anything

        var profile = Directory.CreateTempSubdirectory("paymentslices-chromium-").FullName;
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments(
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1000",
            $"--user-data-dir={profile}", $"--host-resolver-rules={(publicHost is null ? "" : $"MAP {publicHost} 127.0.0.1, ")}MAP * ~NOTFOUND, EXCLUDE 127.0.0.1");
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        options.SetLoggingPreference("performance", LogLevel.All);
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriver)!, Path.GetFileName(ChromeDriver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    /// <summary>The DevTools network events so far (reading the log empties it, so read it once).</summary>
    internal static List<JsonElement> NetworkLog(ChromeDriver browser) =>
        browser.Manage().Logs.GetLog("performance").Select(entry => JsonDocument.Parse(entry.Message).RootElement.GetProperty("message").Clone()).ToList();

    /// <summary>The URL of every request the page made (Chromium's own background requests are not announced to the page).</summary>
    internal static List<string> PageRequests(List<JsonElement> network) =>
        network
            .Where(message => message.GetProperty("method").GetString() == "Network.requestWillBeSent")
            .Select(message => message.GetProperty("params").GetProperty("request").GetProperty("url").GetString()!)
            .ToList();

    /// <summary>Requests that failed at the network level or answered 4xx/5xx, from the DevTools performance log.</summary>
    internal static List<string> FailedRequests(List<JsonElement> network)
    {
        var failures = new List<string>();
        var urls = new Dictionary<string, string>();
        foreach (var message in network)
        {
            var method = message.GetProperty("method").GetString();
            var parameters = message.GetProperty("params");
            if (method == "Network.requestWillBeSent")
            {
                urls[parameters.GetProperty("requestId").GetString()!] = parameters.GetProperty("request").GetProperty("url").GetString()!;
            }
            else if (method == "Network.loadingFailed" && !(parameters.TryGetProperty("canceled", out var canceled) && canceled.GetBoolean()) &&
                     urls.TryGetValue(parameters.GetProperty("requestId").GetString()!, out var url))
            {
                // Only requests the page made: Chromium's own background lookups (no requestWillBeSent) are not the page's.
                failures.Add($"failed: {parameters.GetProperty("errorText").GetString()} {url}");
            }
            else if (method == "Network.responseReceived" && parameters.GetProperty("response").GetProperty("status").GetInt32() >= 400)
            {
                var response = parameters.GetProperty("response");
                failures.Add($"{response.GetProperty("status").GetInt32()}: {response.GetProperty("url").GetString()}");
            }
        }

        return failures;
    }
}

/// <summary>The service on Kestrel with <c>PublicBaseUrl</c> set to a host name only the browser knows (mapped to 127.0.0.1).</summary>
public sealed class PublicBaseUrlKestrelFactory : KestrelApiFactory
{
    public const string PublicHost = "payments.shop.test";

    // A field initializer runs before the base constructor, which starts the server on this port with this setting.
    private readonly int port = PublishedApp.FreePort();

    public string PublicBaseUrl => $"http://{PublicHost}:{port}";

    protected override int Port => port;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("PublicBaseUrl", PublicBaseUrl);
    }
}

public sealed class PublicBaseUrlBrowserTests(PublicBaseUrlKestrelFactory factory) : IClassFixture<PublicBaseUrlKestrelFactory>
{
    [Fact]
    public async Task ThreeDSecure_CompletesThroughTheAbsoluteRedirectUrl()
    {
        var api = factory.Api();
        var payment = await (await api.PostAsJsonAsync("/v1/payments", new { amount = 12m, currency = "GBP", payment_method = "pm_card_threeDSecure2Required" }))
            .ShouldBe(HttpStatusCode.Created);
        var redirect = payment.Str("redirect_url");
        redirect.Should().Be($"{factory.PublicBaseUrl}/v1/sandbox/3ds/{payment.Id()}");
        using var browser = BrowserTests.Browser(PublicBaseUrlKestrelFactory.PublicHost);

        browser.Navigate().GoToUrl(redirect);
        browser.FindElement(By.Id("complete")).Click();
        new WebDriverWait(browser, TimeSpan.FromSeconds(20)).Until(driver => driver.FindElements(By.Id("status")).Count > 0);

        browser.FindElement(By.Id("status")).Text.Should().Be("succeeded");
        browser.Url.Should().Be($"{redirect}/complete", "the page's form posts to the public address");
        (await (await api.GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK)).Str("status").Should().Be("succeeded");
        var network = BrowserTests.NetworkLog(browser);
        BrowserTests.FailedRequests(network).Should().BeEmpty();
        BrowserTests.PageRequests(network).Where(url => url.StartsWith("http", StringComparison.Ordinal)).Should()
            .NotBeEmpty().And.OnlyContain(url => url.StartsWith(factory.PublicBaseUrl + "/", StringComparison.Ordinal));
    }
}
