using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Plumbline.Data;

namespace Plumbline.Server.Features.Auth;

/// <summary>
/// Authenticates <c>Authorization: Bearer TOKEN</c> (or Label Studio's <c>Token TOKEN</c>) against the
/// SHA-256 of stored tokens. Tokens are 256-bit random strings, so a fast hash is enough; no salt is needed.
/// </summary>
public sealed class ApiTokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    PlumblineDbContext db,
    AccessCache cache,
    TimeProvider clock)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiToken";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = ReadToken(Request.Headers.Authorization.ToString());
        if (token is null)
        {
            return AuthenticateResult.NoResult();
        }
        var hash = Tokens.Hash(token);
        var found = await cache.TokenAsync(db, hash, Context.RequestAborted);
        if (found is null)
        {
            return AuthenticateResult.Fail("unknown or revoked token");
        }
        var now = clock.GetUtcNow().UtcDateTime;
        if (found.LastUsedAt is null || now - found.LastUsedAt > TimeSpan.FromHours(1))
        {
            // Hourly resolution keeps a write off every authenticated request.
            await db.ApiTokens.Where(t => t.Id == found.TokenId).ExecuteUpdateAsync(s => s.SetProperty(t => t.LastUsedAt, now), Context.RequestAborted);
            cache.TokenUsed(hash, found, now);
        }
        var principal = CurrentUser.ToPrincipal(found.User, SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    private static string? ReadToken(string header)
    {
        foreach (var scheme in (ReadOnlySpan<string>)["Bearer ", "Token "])
        {
            if (header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            {
                var token = header[scheme.Length..].Trim();
                return token.Length is > 0 and <= 256 ? token : null;
            }
        }
        return null;
    }
}

/// <summary>Making and hashing API tokens.</summary>
public static class Tokens
{
    /// <summary>A new token: "plb_" and 43 URL-safe characters of randomness (256 bits).</summary>
    public static string New() => "plb_" + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>What is shown in listings: enough to tell tokens apart, useless to an attacker.</summary>
    public static string Prefix(string token) => token.Length > 8 ? token[..8] : token;

    /// <summary>A password for the first admin when none was given.</summary>
    public static string NewPassword() => Base64Url(RandomNumberGenerator.GetBytes(15));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>Who is calling, read from the claims the handlers put on the principal.</summary>
public static class CurrentUser
{
    public const string AdminClaim = "plumbline:admin";

    public static ClaimsPrincipal ToPrincipal(User user, string scheme)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new(ClaimTypes.Email, user.Email),
        };
        if (user.IsAdmin)
        {
            claims.Add(new Claim(AdminClaim, "true"));
        }
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    public static long Id(this ClaimsPrincipal principal) =>
        long.Parse(principal.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw new InvalidOperationException("not signed in"),
            System.Globalization.CultureInfo.InvariantCulture);

    public static bool IsAdmin(this ClaimsPrincipal principal) => principal.HasClaim(AdminClaim, "true");

    public static string Email(this ClaimsPrincipal principal) => principal.FindFirstValue(ClaimTypes.Email) ?? "";
}
