using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;
using Plumbline.Data;
using Plumbline.Server.Features.Admin;
using Plumbline.Server.Features.Annotate;
using Plumbline.Server.Features.Arena;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Export;
using Plumbline.Server.Features.Import;
using Plumbline.Server.Features.Items;
using Plumbline.Server.Features.Labellers;
using Plumbline.Server.Features.Manage;
using Plumbline.Server.Features.Models;
using Plumbline.Server.Features.Pages;
using Plumbline.Server.Features.Projects;
using Plumbline.Server.Features.Quality;
using Plumbline.Server.Features.Queue;
using Plumbline.Server.Features.Releases;

namespace Plumbline.Server.Hosting;

public static class Policies
{
    public const string Admin = "admin";
}

/// <summary>Builds and runs the Plumbline server; used by <c>Program</c> and by <c>plumbline serve</c>.</summary>
public static class PlumblineApp
{
    public const string DefaultUrl = "http://127.0.0.1:5080";
    private const string SmartScheme = "token-or-cookie";
    public const string SignInLimit = "sign-in";

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ASPNETCORE_URLS")))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        // Per-query EF logs would drown the server's own messages (and could carry data); warnings still show.
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<AccessCache>();
        services.AddSingleton<Microsoft.EntityFrameworkCore.Diagnostics.IInterceptor>(sp => sp.GetRequiredService<AccessCache>().Invalidator);
        services.AddPlumblineData(sp => DatabaseSettings.Parse(sp.GetRequiredService<IConfiguration>()["PLUMBLINE_DATABASE"]));
        // Hosted services start in registration order: migrations must run before Data Protection's hosted
        // service (registered by AddRazorComponents/AddAntiforgery too) reads its key ring from the database,
        // or a first start logs "no such table" errors.
        services.AddHostedService<BootstrapService>();
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull);
        services.AddOpenApi();
        services.AddRazorComponents();
        services.AddAntiforgery();
        services.AddDataProtection().SetApplicationName("Plumbline");
        services.AddSingleton(sp => SecretKey.Resolve(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<DatabaseSettings>()));
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp => new ConfigureOptions<KeyManagementOptions>(o =>
        {
            o.XmlRepository = new DatabaseKeyRepository(sp.GetRequiredService<IServiceScopeFactory>());
            o.XmlEncryptor = new SecretKeyXmlEncryptor(sp.GetRequiredService<SecretKey>());
        }));
        // Password guessing is slowed per client address; everything else is unlimited.
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(SignInLimit, http => RateLimitPartition.GetFixedWindowLimiter(
                http.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = http.RequestServices.GetRequiredService<IConfiguration>().GetValue("PLUMBLINE_SIGNIN_LIMIT_PER_MINUTE", 20),
                    Window = TimeSpan.FromMinutes(1),
                }));
        });
        services.AddScoped<ProjectAccess>();
        services.AddScoped<ProjectService>();
        services.AddScoped<QueueService>();
        services.AddScoped<ImportService>();
        services.AddScoped<PreparationRunService>();
        services.AddScoped<ExportService>();
        services.AddSingleton<ReleaseStorage>();
        services.AddSingleton<S3Uploader>();
        services.AddScoped<ReleaseService>();
        services.AddReleaseWorker();
        services.AddScoped<ItemBrowser>();
        services.AddQuality();
        services.AddArena();
        services.AddModels();
        services.AddLabellers();

        services.AddAuthentication(SmartScheme)
            .AddPolicyScheme(SmartScheme, "API token or sign-in cookie", o => o.ForwardDefaultSelector = ctx =>
                ctx.Request.Headers.Authorization.Count > 0 ? ApiTokenAuthenticationHandler.SchemeName : CookieAuthenticationDefaults.AuthenticationScheme)
            .AddScheme<AuthenticationSchemeOptions, ApiTokenAuthenticationHandler>(ApiTokenAuthenticationHandler.SchemeName, null)
            .AddCookie(o =>
            {
                o.LoginPath = "/login";
                o.Cookie.Name = "plumbline";
                o.Cookie.HttpOnly = true;
                // Strict: a cookie-carrying request never comes from another site, which closes CSRF on the API.
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.SlidingExpiration = true;
                o.ExpireTimeSpan = TimeSpan.FromHours(12);
                o.Events.OnRedirectToLogin = ctx => ApiOr(ctx, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = ctx => ApiOr(ctx, StatusCodes.Status403Forbidden);
            });
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Admin, p => p.RequireAuthenticatedUser().RequireClaim(CurrentUser.AdminClaim, "true"));

        var app = builder.Build();
        // Bad requests that the framework detects (a missing antiforgery token, an unreadable body) keep their 4xx.
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = ex => ex is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,
        });
        app.UseStatusCodePages();
        // Served from beside the binaries, so `plumbline serve` works from any folder and in any environment.
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "wwwroot")),
        });
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.UseRateLimiter();

        app.MapOpenApi("/openapi/{documentName}.json");
        app.UseSwaggerUI(o =>
        {
            o.SwaggerEndpoint("/openapi/v1.json", "Plumbline API v1");
            o.RoutePrefix = "swagger";
        });
        app.MapGet("/health", () => Results.Ok(new { status = "ok" })).WithName("Health").WithSummary("Liveness").AllowAnonymous();
        app.MapAdminEndpoints();
        app.MapProjectEndpoints();
        app.MapQueueEndpoints();
        app.MapImportEndpoints();
        app.MapExportEndpoints();
        app.MapReleaseEndpoints();
        app.MapQualityFeature();
        app.MapArenaFeature();
        app.MapPageEndpoints();
        app.MapAnnotateEndpoints();
        app.MapWorkflowEndpoints();
        app.MapItemEndpoints();
        app.MapManageEndpoints();
        app.MapModelsFeature();
        app.MapLabellerEndpoints();
        app.MapReleasePages();
        return app;
    }

    /// <summary>Serves until stopped; the database is prepared first by <see cref="BootstrapService"/>.</summary>
    public static Task RunAsync(string[] args) => Build(args).RunAsync();

    private static Task ApiOr(RedirectContext<CookieAuthenticationOptions> ctx, int status)
    {
        if (ctx.Request.Path.StartsWithSegments("/api"))
        {
            ctx.Response.StatusCode = status;
            return Task.CompletedTask;
        }
        ctx.Response.Redirect(ctx.RedirectUri);
        return Task.CompletedTask;
    }
}
