using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Admin;

/// <summary>A user as the API shows it: never a password hash.</summary>
public sealed record UserDto(long Id, string Email, string? DisplayName, bool IsAdmin, bool IsActive, DateTime CreatedAt)
{
    public static UserDto From(User u) => new(u.Id, u.Email, u.DisplayName, u.IsAdmin, u.IsActive, u.CreatedAt);
}

/// <param name="Email">The new user's e-mail address.</param>
/// <param name="Password">Optional: without one, the user signs in with tokens only.</param>
/// <param name="Role"><c>admin</c> or <c>user</c> (project roles are given per project).</param>
/// <param name="DisplayName">How the user is shown.</param>
public sealed record CreateUserRequest(string Email, string? Password, string? Role, string? DisplayName);

/// <param name="Name">A label for the token.</param>
/// <param name="UserEmail">Admins may create a token for another user.</param>
public sealed record CreateTokenRequest(string? Name, string? UserEmail);

/// <summary>The token itself appears only in this answer; only its hash is stored.</summary>
public sealed record CreatedTokenDto(long Id, string Name, string Token, string Prefix, string UserEmail);

public sealed record TokenDto(long Id, string Name, string Prefix, string UserEmail, DateTime CreatedAt, DateTime? LastUsedAt, DateTime? RevokedAt);

/// <summary>Exchanges e-mail and password for a new API token (what <c>plumbline login</c> calls).</summary>
public sealed record LoginRequest(string Email, string Password, string? TokenName);

public static class AdminEndpoints
{
    public static IEndpointRouteBuilder MapAdminEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Users and tokens");

        api.MapGet("/me", async Task<Results<Ok<UserDto>, NotFound>> (ClaimsPrincipal principal, PlumblineDbContext db, CancellationToken ct) =>
        {
            var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == principal.Id(), ct);
            return user is null ? TypedResults.NotFound() : TypedResults.Ok(UserDto.From(user));
        }).WithName("GetMe").WithSummary("The signed-in user").RequireAuthorization();

        api.MapPost("/auth/token", async (LoginRequest request, PlumblineDbContext db, TimeProvider clock, CancellationToken ct) =>
        {
            var email = Emails.Normalise(request.Email);
            var user = await db.Users.FirstOrDefaultAsync(u => u.Email == email && u.IsActive, ct);
            if (user?.PasswordHash is null || new PasswordHasher<User>().VerifyHashedPassword(user, user.PasswordHash, request.Password) == PasswordVerificationResult.Failed)
            {
                return Results.Problem("wrong e-mail or password", statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized");
            }
            var (entity, token) = IssueToken(db, clock, user, request.TokenName ?? "login");
            await db.SaveChangesAsync(ct);
            db.Record(clock, user.Id, null, "token.create", "token", entity.Id, new { entity.Name });
            await db.SaveChangesAsync(ct);
            return Results.Ok(new CreatedTokenDto(entity.Id, entity.Name, token, entity.Prefix, user.Email));
        }).WithName("CreateTokenWithPassword").WithSummary("Exchange e-mail and password for a new API token").AllowAnonymous()
          .RequireRateLimiting(Hosting.PlumblineApp.SignInLimit);

        var users = api.MapGroup("/users").RequireAuthorization(Plumbline.Server.Hosting.Policies.Admin);
        users.MapGet("/", async (PlumblineDbContext db, CancellationToken ct) =>
            TypedResults.Ok(await db.Users.AsNoTracking().OrderBy(u => u.Id).Select(u => UserDto.From(u)).ToListAsync(ct)))
            .WithName("ListUsers").WithSummary("All users (admin)");
        users.MapPost("/", async (CreateUserRequest request, ClaimsPrincipal principal, PlumblineDbContext db, TimeProvider clock, CancellationToken ct) =>
        {
            var email = Emails.Normalise(request.Email);
            if (!IsPlausibleEmail(email))
            {
                return Problems.BadRequest($"'{request.Email}' is not an e-mail address");
            }
            if (request.Role is not (null or "user" or "admin"))
            {
                return Problems.BadRequest($"role '{request.Role}' is not 'user' or 'admin' (project roles are given with project member add)");
            }
            if (request.Password is { Length: < 8 })
            {
                return Problems.BadRequest("a password needs at least 8 characters");
            }
            if (await db.Users.AnyAsync(u => u.Email == email, ct))
            {
                return Problems.Conflict($"a user with e-mail {email} exists already");
            }
            var user = NewUser(email, request.Password, request.Role == "admin", request.DisplayName, clock);
            db.Users.Add(user);
            await db.SaveChangesAsync(ct);
            db.Record(clock, principal.Id(), null, "user.create", "user", user.Id, new { user.Email, user.IsAdmin });
            await db.SaveChangesAsync(ct);
            return Results.Created($"/api/v1/users/{user.Id}", UserDto.From(user));
        }).WithName("CreateUser").WithSummary("Create a user (admin)");

        var tokens = api.MapGroup("/tokens").RequireAuthorization();
        tokens.MapPost("/", async (CreateTokenRequest request, ClaimsPrincipal principal, PlumblineDbContext db, TimeProvider clock, CancellationToken ct) =>
        {
            var owner = await db.Users.FirstOrDefaultAsync(u => u.Id == principal.Id(), ct);
            if (request.UserEmail is { } email && !string.Equals(email, principal.Email(), StringComparison.OrdinalIgnoreCase))
            {
                if (!principal.IsAdmin())
                {
                    return Problems.Forbidden("only an admin may create a token for another user");
                }
                var normalised = Emails.Normalise(email);
                owner = await db.Users.FirstOrDefaultAsync(u => u.Email == normalised, ct);
                if (owner is null)
                {
                    return Problems.NotFound($"no user with e-mail {email}");
                }
            }
            var (entity, token) = IssueToken(db, clock, owner!, request.Name ?? "api");
            await db.SaveChangesAsync(ct);
            db.Record(clock, principal.Id(), null, "token.create", "token", entity.Id, new { entity.Name, owner!.Email });
            await db.SaveChangesAsync(ct);
            return Results.Ok(new CreatedTokenDto(entity.Id, entity.Name, token, entity.Prefix, owner.Email));
        }).WithName("CreateToken").WithSummary("Create an API token; it is shown once");
        tokens.MapGet("/", async (string? user, ClaimsPrincipal principal, PlumblineDbContext db, CancellationToken ct) =>
        {
            var query = db.ApiTokens.AsNoTracking();
            if (!principal.IsAdmin())
            {
                query = query.Where(t => t.UserId == principal.Id());
            }
            else if (user is not null)
            {
                var email = Emails.Normalise(user);
                query = query.Where(t => t.User!.Email == email);
            }
            return TypedResults.Ok(await query.OrderBy(t => t.Id)
                .Select(t => new TokenDto(t.Id, t.Name, t.Prefix, t.User!.Email, t.CreatedAt, t.LastUsedAt, t.RevokedAt)).ToListAsync(ct));
        }).WithName("ListTokens").WithSummary("Your tokens (admins: everyone's, or one user's)");
        tokens.MapDelete("/{id:long}", async (long id, ClaimsPrincipal principal, PlumblineDbContext db, TimeProvider clock, CancellationToken ct) =>
        {
            var token = await db.ApiTokens.FirstOrDefaultAsync(t => t.Id == id, ct);
            if (token is null || (token.UserId != principal.Id() && !principal.IsAdmin()))
            {
                return Problems.NotFound($"token {id} does not exist or is not yours");
            }
            token.RevokedAt ??= clock.GetUtcNow().UtcDateTime;
            db.Record(clock, principal.Id(), null, "token.revoke", "token", id);
            await db.SaveChangesAsync(ct);
            return Results.NoContent();
        }).WithName("RevokeToken").WithSummary("Revoke a token");

        return app;
    }

    internal static User NewUser(string email, string? password, bool isAdmin, string? displayName, TimeProvider clock)
    {
        var user = new User { Email = email, IsAdmin = isAdmin, DisplayName = displayName, CreatedAt = clock.GetUtcNow().UtcDateTime };
        if (password is not null)
        {
            user.PasswordHash = new PasswordHasher<User>().HashPassword(user, password);
        }
        return user;
    }

    /// <summary>Adds a token for <paramref name="owner"/>; the plain token is returned once and never stored.</summary>
    internal static (ApiToken Entity, string Token) IssueToken(PlumblineDbContext db, TimeProvider clock, User owner, string name, string? token = null)
    {
        token ??= Tokens.New();
        var entity = new ApiToken
        {
            User = owner, Name = name.Length > 200 ? name[..200] : name, Prefix = Tokens.Prefix(token), Hash = Tokens.Hash(token),
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        db.ApiTokens.Add(entity);
        return (entity, token);
    }

    internal static bool IsPlausibleEmail(string email) =>
        email.Length is > 2 and <= 320 && email.IndexOf('@') is > 0 and var at && at < email.Length - 1 && !email.Contains(' ');
}
