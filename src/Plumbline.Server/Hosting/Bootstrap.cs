using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Import;
using Plumbline.Data;
using Plumbline.Server.Features.Admin;
using Plumbline.Server.Features.Import;
using Plumbline.Server.Features.Projects;

namespace Plumbline.Server.Hosting;

/// <summary>
/// Runs <see cref="Bootstrap"/> as the host starts, before the server takes requests (the app's hosted
/// services start before the web server), so test hosts and <c>plumbline serve</c> prepare the database alike.
/// </summary>
public sealed class BootstrapService(IServiceProvider services, IConfiguration config) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Bootstrap.InitializeAsync(services, config, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>First-start work: migrations, the first admin, and a demo project so the first page is not empty.</summary>
public static class Bootstrap
{
    public const string DefaultAdminEmail = "admin@localhost";
    public const string DemoProjectName = "Demo: which answer is better?";

    public static async Task InitializeAsync(IServiceProvider services, IConfiguration config, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        var clock = scope.ServiceProvider.GetRequiredService<TimeProvider>();
        var log = scope.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Plumbline.Bootstrap");
        var settings = scope.ServiceProvider.GetRequiredService<DatabaseSettings>();
        if (log.IsEnabled(LogLevel.Information))
        {
            log.LogInformation("Database: {Database}", settings.Describe());
        }
        // Resolved here so a missing or too short secret stops the start with its reason; only its source is logged.
        var secret = scope.ServiceProvider.GetRequiredService<Features.Auth.SecretKey>();
        if (log.IsEnabled(LogLevel.Information))
        {
            log.LogInformation("Secret key: {Source} (fingerprint {Id})", secret.Source, secret.Id);
        }
        await db.MigrateAsync(ct);
        if (await db.Users.AnyAsync(ct))
        {
            return;
        }

        var email = Features.Auth.Emails.Normalise(config["PLUMBLINE_ADMIN_EMAIL"] ?? DefaultAdminEmail);
        var password = config["PLUMBLINE_ADMIN_PASSWORD"];
        var generated = string.IsNullOrEmpty(password);
        if (generated)
        {
            password = Features.Auth.Tokens.NewPassword();
        }
        var admin = AdminEndpoints.NewUser(email, password, isAdmin: true, "Administrator", clock);
        db.Users.Add(admin);
        if (config["PLUMBLINE_ADMIN_TOKEN"] is { Length: > 0 } token)
        {
            AdminEndpoints.IssueToken(db, clock, admin, "PLUMBLINE_ADMIN_TOKEN", token);
        }
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Two processes started together on one empty PostgreSQL database: fine if the other one won.
            if (await OtherNodeBootstrappedAsync(services, ct))
            {
                return;
            }
            throw;
        }
        if (generated)
        {
            // Written once to the console, never to the log: it exists nowhere else.
            Console.WriteLine();
            Console.WriteLine($"  Plumbline admin account created: {email}");
            Console.WriteLine($"  Password (shown once): {password}");
            Console.WriteLine();
        }

        if (config["PLUMBLINE_DEMO"] != "false")
        {
            await CreateDemoProjectAsync(scope.ServiceProvider, admin.Id, ct);
        }
    }

    private static async Task<bool> OtherNodeBootstrappedAsync(IServiceProvider services, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<PlumblineDbContext>().Users.AnyAsync(ct);
    }

    private static async Task CreateDemoProjectAsync(IServiceProvider services, long adminId, CancellationToken ct)
    {
        var projects = services.GetRequiredService<ProjectService>();
        var schema = ProjectService.ResolveSchema(new CreateProjectRequest(DemoProjectName, null, "pairwise", null, null, null));
        var project = await projects.CreateAsync(adminId, DemoProjectName,
            "Pairs of answers to everyday questions. Pick the better one.", schema,
            "# Guidelines\n\nPrefer the answer that is **correct**, then **helpful**, then **concise**.\n\n- A wrong fact loses to any correct answer.\n- Use *tie* only when both are equally good.\n- Use *both bad* when neither should be shown to a user.",
            ct);
        await using var demo = typeof(Bootstrap).Assembly.GetManifestResourceStream("demo-items.jsonl")
            ?? throw new InvalidOperationException("demo-items.jsonl is not embedded");
        await services.GetRequiredService<ImportService>().ImportAsync(project.Id, adminId, demo,
            new ImportSettings(ImportFormat.Jsonl, "demo-items.jsonl", new Core.Preparation.PreparationOptions(), DryRun: false), ct);
    }
}
