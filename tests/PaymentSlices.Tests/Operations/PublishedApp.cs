using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PaymentSlices.Tests.Operations;

/// <summary>
/// The service published as the Dockerfile publishes it (<c>dotnet publish -c Release</c> to a folder), once per
/// test class. Each test starts it as its own process, configured by environment variables only.
/// </summary>
public sealed class PublishedApp : IAsyncLifetime
{
    private readonly string root = Directory.CreateTempSubdirectory("paymentslices-published-").FullName;

    public string AppDirectory => Path.Combine(root, "app");

    public async Task InitializeAsync()
    {
        var repository = Repository.Root;
        var publish = Dotnet(repository);
        foreach (var argument in new[]
                 {
                     "publish", Path.Combine(repository, "src", "PaymentSlices.Api", "PaymentSlices.Api.csproj"),
                     "-c", "Release", "-o", AppDirectory, "--disable-build-servers", "-nodeReuse:false", "-warnaserror",
                 })
        {
            publish.ArgumentList.Add(argument);
        }

        var (exitCode, output) = await RunToEndAsync(publish, TimeSpan.FromMinutes(5));
        exitCode.Should().Be(0, "dotnet publish must succeed:\n" + output);
        File.Exists(Path.Combine(AppDirectory, "PaymentSlices.Api.dll")).Should().BeTrue();
        // As the Dockerfile checks: the API reference's bundle ships with the app.
        new FileInfo(Path.Combine(AppDirectory, "scalar", "standalone.js")).Length.Should().BeGreaterThan(0);
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open; the temp folder is cleaned by the system.
        }

        return Task.CompletedTask;
    }

    /// <summary>A fresh folder standing in for the image's <c>/data</c> volume.</summary>
    public string NewDataDirectory() => Directory.CreateDirectory(Path.Combine(root, "data-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>Starts <c>dotnet PaymentSlices.Api.dll</c> with exactly these environment variables (plus PATH and HOME).</summary>
    public ServiceProcess Start(IReadOnlyDictionary<string, string> environment)
    {
        var start = Dotnet(AppDirectory, inheritEnvironment: false);
        start.ArgumentList.Add("PaymentSlices.Api.dll");
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        return new ServiceProcess(start);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static ProcessStartInfo Dotnet(string workingDirectory, bool inheritEnvironment = true)
    {
        var start = new ProcessStartInfo(DotnetPath())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // The test runner's MSBuild and test-host variables must not leak into a nested build or the service.
        foreach (var name in start.Environment.Keys.ToList())
        {
            var leaks = name.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("TESTINGPLATFORM", StringComparison.OrdinalIgnoreCase) || name.Equals("DOTNET_HOST_PATH", StringComparison.OrdinalIgnoreCase);
            if (!inheritEnvironment || leaks)
            {
                start.Environment.Remove(name);
            }
        }

        if (!inheritEnvironment)
        {
            foreach (var name in new[] { "PATH", "HOME", "DOTNET_ROOT", "TMPDIR" })
            {
                if (Environment.GetEnvironmentVariable(name) is { } value)
                {
                    start.Environment[name] = value;
                }
            }

            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        }

        return start;
    }

    private static string DotnetPath()
    {
        if (Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            return host;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path : "dotnet";
    }

    private static async Task<(int ExitCode, string Output)> RunToEndAsync(ProcessStartInfo start, TimeSpan timeout)
    {
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{start.FileName} {string.Join(' ', start.ArgumentList)} took longer than {timeout}");
        }

        return (process.ExitCode, await output + await error);
    }
}

/// <summary>The published service running as a separate process; its standard output and error, line by line.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly ConcurrentQueue<string> output = new();
    private readonly ConcurrentQueue<string> errors = new();
    private readonly TaskCompletionSource outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource errorsClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ServiceProcess(ProcessStartInfo start)
    {
        process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => Collect(line.Data, output, outputClosed);
        process.ErrorDataReceived += (_, line) => Collect(line.Data, errors, errorsClosed);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => process.Id;

    public IReadOnlyList<string> Output => output.ToList();

    public IReadOnlyList<string> Errors => errors.ToList();

    public bool HasExited => process.HasExited;

    /// <summary>What an orchestrator sends to stop a container (docker stop, Kubernetes).</summary>
    public void SendSigterm()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) } })!;
        kill.WaitForExit();
        kill.ExitCode.Should().Be(0);
    }

    /// <summary>The exit code, once the process and both of its streams have ended; null if it is still running after the timeout.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
            await Task.WhenAll(outputClosed.Task, errorsClosed.Task).WaitAsync(cancel.Token);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Polls the URL until it answers 200; false if the process exits or the timeout passes first.</summary>
    public async Task<bool> WaitUntilOkAsync(HttpClient client, string url, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until && !process.HasExited)
        {
            try
            {
                using var response = await client.GetAsync(url);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    private static void Collect(string? line, ConcurrentQueue<string> lines, TaskCompletionSource closed)
    {
        if (line is null)
        {
            closed.TrySetResult();
        }
        else
        {
            lines.Enqueue(line);
        }
    }
}
