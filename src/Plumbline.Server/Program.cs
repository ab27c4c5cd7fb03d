using Plumbline.Server.Hosting;

await PlumblineApp.RunAsync(args);

/// <summary>Entry point; the test host finds the app through it.</summary>
public partial class Program;
