using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Projects;

namespace Plumbline.Server.Features.Pages;

public static class PageEndpoints
{
    public static IEndpointRouteBuilder MapPageEndpoints(this IEndpointRouteBuilder app)
    {
        var pages = app.MapGroup("").ExcludeFromDescription();

        pages.MapGet("/", async (HttpContext http, ProjectService projects, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            if (http.User.Identity?.IsAuthenticated != true)
            {
                return Results.Redirect("/login");
            }
            var list = await projects.ListAsync(http.User, ct);
            return new RazorComponentResult<HomePage>(new
            {
                UserEmail = http.User.Email(), Projects = list, AntiforgeryToken = antiforgery.GetAndStoreTokens(http).RequestToken!,
            });
        });

        pages.MapGet("/login", (HttpContext http, IAntiforgery antiforgery, string? returnUrl) =>
            new RazorComponentResult<LoginPage>(new { ReturnUrl = returnUrl, AntiforgeryToken = antiforgery.GetAndStoreTokens(http).RequestToken! }));

        pages.MapPost("/login", async Task<IResult> ([FromForm] string email, [FromForm] string password, [FromForm] string? returnUrl,
            HttpContext http, PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var normalised = Emails.Normalise(email);
            var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Email == normalised && u.IsActive, ct);
            if (user?.PasswordHash is null
                || new PasswordHasher<User>().VerifyHashedPassword(user, user.PasswordHash, password) == PasswordVerificationResult.Failed)
            {
                http.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return new RazorComponentResult<LoginPage>(new
                {
                    Error = "Wrong e-mail or password.", Email = email, ReturnUrl = returnUrl,
                    AntiforgeryToken = antiforgery.GetAndStoreTokens(http).RequestToken!,
                });
            }
            await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme,
                CurrentUser.ToPrincipal(user, CookieAuthenticationDefaults.AuthenticationScheme));
            // Only local paths, so the form cannot be used to bounce people to another site.
            var target = returnUrl is { Length: > 0 } && returnUrl.StartsWith('/') && !returnUrl.StartsWith("//", StringComparison.Ordinal) ? returnUrl : "/";
            return Results.Redirect(target);
        }).RequireRateLimiting(Hosting.PlumblineApp.SignInLimit);

        pages.MapPost("/logout", async (HttpContext http) =>
        {
            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect("/login");
        }).RequireAuthorization();

        return app;
    }
}
