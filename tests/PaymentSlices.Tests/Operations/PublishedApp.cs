using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PaymentSlices.Tests.Operations;

/// <summary>
/// The service built as the Dockerfile builds it, once per test class: the build stage's steps replayed in order on a
/// fresh folder standing in for the image's <c>/source</c>: its COPY lines (with <c>.dockerignore</c>'s exclusions; the
/// Scalar bundle the node stage makes is taken from this checkout's build) and its <c>dotnet</c> RUN lines (restore, then
/// <c>publish -c Release --no-restore</c>, <c>/app</c> being a temporary folder). Each test starts the result as its own
/// process, configured by environment variables only.
/// </summary>
public sealed partial class PublishedApp : IAsyncLifetime
{
    private readonly string root = Directory.CreateTempSubdirectory("paymentslices-published-").FullName;

    public string AppDirectory => Path.Combine(root, "app");

    private string SourceDirectory => Path.Combine(root, "source");

    public async Task InitializeAsync()
    {
        var steps = BuildStage(await File.ReadAllLinesAsync(Path.Combine(Repository.Root, "Dockerfile")));
        steps.Should().Contain(step => step.StartsWith("RUN dotnet publish", StringComparison.Ordinal), "the Dockerfile's build stage publishes the app");
        Directory.CreateDirectory(SourceDirectory);
        foreach (var step in steps)
        {
            if (step.StartsWith("COPY ", StringComparison.Ordinal))
            {
                Copy(step.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]);
            }
            else if (step.StartsWith("RUN dotnet ", StringComparison.Ordinal))
            {
                await RunDotnetAsync(step);
            }
        }

        File.Exists(Path.Combine(AppDirectory, "PaymentSlices.Api.dll")).Should().BeTrue();
        // As the Dockerfile checks: the API reference's bundle ships with the app.
        new FileInfo(Path.Combine(AppDirectory, "scalar", "standalone.js")).Length.Should().BeGreaterThan(0);
    }

    /// <summary>The build stage's instructions, continuation lines joined, comments dropped.</summary>
    private static List<string> BuildStage(string[] dockerfile)
    {
        var instructions = new List<string>();
        var current = "";
        foreach (var line in dockerfile.Where(line => !line.TrimStart().StartsWith('#')))
        {
            current += line.Trim().TrimEnd('\\').Trim() + " ";
            if (!line.TrimEnd().EndsWith('\\'))
            {
                if (current.Trim().Length > 0)
                {
                    instructions.Add(current.Trim());
                }

                current = "";
            }
        }

        return instructions
            .SkipWhile(instruction => !BuildStageStart().IsMatch(instruction)).Skip(1)
            .TakeWhile(instruction => !instruction.StartsWith("FROM ", StringComparison.Ordinal))
            .ToList();
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^FROM\s+\S+\s+AS\s+build$", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex BuildStageStart();

    private void Copy(string[] arguments)
    {
        var destination = arguments[^1];
        if (arguments[0].StartsWith("--from=", StringComparison.Ordinal))
        {
            // The node stage's Scalar bundle: the same pinned file this checkout's build fetched into artifacts/.
            var bundle = Path.Combine(Repository.Root, destination);
            File.Exists(bundle).Should().BeTrue($"the build fetched {destination}");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(SourceDirectory, destination))!);
            File.Copy(bundle, Path.Combine(SourceDirectory, destination), overwrite: true);
            return;
        }

        foreach (var source in arguments[..^1])
        {
            var from = Path.Combine(Repository.Root, source);
            var into = Path.Combine(SourceDirectory, destination);
            if (Directory.Exists(from))
            {
                CopyDirectory(from, into);
            }
            else
            {
                File.Exists(from).Should().BeTrue($"the Dockerfile copies {source}");
                var target = destination.EndsWith('/') ? Path.Combine(into, Path.GetFileName(source)) : into;
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(from, target, overwrite: true);
            }
        }
    }

    // What .dockerignore keeps out of the build context: build output and databases.
    private static void CopyDirectory(string from, string into)
    {
        Directory.CreateDirectory(into);
        foreach (var file in Directory.GetFiles(from).Where(file => !Path.GetFileName(file).Contains(".db", StringComparison.Ordinal)))
        {
            File.Copy(file, Path.Combine(into, Path.GetFileName(file)), overwrite: true);
        }

        foreach (var directory in Directory.GetDirectories(from).Where(directory => Path.GetFileName(directory) is not ("bin" or "obj")))
        {
            CopyDirectory(directory, Path.Combine(into, Path.GetFileName(directory)));
        }
    }

    private async Task RunDotnetAsync(string step)
    {
        var command = Dotnet(SourceDirectory);
        var words = step["RUN dotnet ".Length..].Split("&&")[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (var word in words)
        {
            command.ArgumentList.Add(word == "/app" ? AppDirectory : word);
        }

        command.ArgumentList.Add("--disable-build-servers");
        command.ArgumentList.Add("-nodeReuse:false");
        var (exitCode, output) = await RunToEndAsync(command, TimeSpan.FromMinutes(5));
        exitCode.Should().Be(0, $"the Dockerfile's `{step}` must succeed:\n{output}");
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

    /// <summary>A crash: SIGKILL, nothing runs after it (no shutdown, no flush), as a power cut would leave the process.</summary>
    public async Task KillAsync()
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
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

    /// <summary>Waits until a line the process wrote to its output matches; false if it exits or the timeout passes first.</summary>
    public async Task<bool> WaitForOutputAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (!output.Any(match))
        {
            if (DateTime.UtcNow >= until || process.HasExited)
            {
                return output.Any(match);
            }

            await Task.Delay(50);
        }

        return true;
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
