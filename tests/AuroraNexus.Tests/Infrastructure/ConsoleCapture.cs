namespace AuroraNexus.Tests.Infrastructure;

/// <summary>Runs code with Console.Out and Console.Error captured; one capture at a time across all tests.</summary>
public static class ConsoleCapture
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public static async Task<(T Result, string Output)> RunAsync<T>(Func<Task<T>> action)
    {
        await Gate.WaitAsync();
        var (stdout, stderr) = (Console.Out, Console.Error);
        var buffer = new StringWriter();
        try
        {
            Console.SetOut(buffer);
            Console.SetError(buffer);
            var result = await action();
            return (result, buffer.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            Gate.Release();
        }
    }
}
