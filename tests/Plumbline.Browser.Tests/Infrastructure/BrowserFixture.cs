namespace Plumbline.Browser.Tests.Infrastructure;

/// <summary>
/// One Chromium for the run: Debian's <c>/usr/bin/chromium</c> (test.sh installs it), driven by Playwright,
/// with the flags from STACK.md. Each test gets its own context, so cookies never leak between people.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? playwright;
    public IBrowser Browser { get; private set; } = default!;

    /// <summary>Where screenshots go: the test output folder, or <c>PLUMBLINE_SCREENSHOTS</c>.</summary>
    public static string ScreenshotFolder { get; } =
        Environment.GetEnvironmentVariable("PLUMBLINE_SCREENSHOTS") is { Length: > 0 } folder ? folder : Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: run ./test.sh, which installs Debian's chromium package.");
        }
        Directory.CreateDirectory(ScreenshotFolder);
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }
        playwright?.Dispose();
    }
}
