using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Plumbline.Data;

namespace Plumbline.Server.Features.Auth;

/// <summary>Per-project roles, ordered by what they may do.</summary>
public static class Roles
{
    public const string Annotator = "annotator";
    public const string Reviewer = "reviewer";
    public const string Manager = "manager";

    public static readonly string[] All = [Annotator, Reviewer, Manager];

    public static int Rank(string role) => Array.IndexOf(All, role);
}

/// <summary>
/// Decides, on the server, whether the caller may act on a project. A project the caller is not a member of
/// answers 404, so its existence is not revealed; a member without the role answers 403.
/// </summary>
public sealed class ProjectAccess(PlumblineDbContext db, AccessCache cache)
{
    /// <summary>The caller's role in the project (admins act as managers), or an error result.</summary>
    public async Task<(string? Role, IResult? Denied)> RequireAsync(ClaimsPrincipal user, long projectId, string minimumRole, CancellationToken ct)
    {
        if (await cache.ProjectAsync(db, projectId, ct) is null)
        {
            return (null, Problems.NotFound($"project {projectId} does not exist or you are not a member"));
        }
        if (user.IsAdmin())
        {
            return (Roles.Manager, null);
        }
        var userId = user.Id();
        var role = await cache.RoleAsync(db, projectId, userId, ct);
        if (role is null)
        {
            return (null, Problems.NotFound($"project {projectId} does not exist or you are not a member"));
        }
        if (Roles.Rank(role) < Roles.Rank(minimumRole))
        {
            return (null, Problems.Forbidden($"this needs the {minimumRole} role in project {projectId}; you are {role}"));
        }
        return (role, null);
    }
}

/// <summary>ProblemDetails answers with a message a person can act on.</summary>
public static class Problems
{
    public static IResult NotFound(string detail) => Results.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    public static IResult Forbidden(string detail) => Results.Problem(detail, statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");

    public static IResult BadRequest(string detail) => Results.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Bad request");

    public static IResult Conflict(string detail) => Results.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");
}

/// <summary>E-mail addresses are stored lower-cased and compared that way.</summary>
public static class Emails
{
    public static string Normalise(string? email) => (email ?? "").Trim().ToLowerInvariant();
}
