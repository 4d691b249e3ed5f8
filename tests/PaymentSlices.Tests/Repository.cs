namespace PaymentSlices.Tests;

/// <summary>The checkout the tests run from: the folder holding PaymentSlices.sln.</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "PaymentSlices.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("PaymentSlices.sln not found above " + AppContext.BaseDirectory);
    }
}
