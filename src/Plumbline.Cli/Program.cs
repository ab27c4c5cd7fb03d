namespace Plumbline.Cli;

/// <summary>The <c>plumbline</c> executable (named so it does not clash with the server's <c>Program</c>).</summary>
internal static class EntryPoint
{
    private static Task<int> Main(string[] args) => CliApp.RunAsync(args, Console.Out, Console.Error);
}
