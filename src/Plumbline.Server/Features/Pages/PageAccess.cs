using Microsoft.AspNetCore.Http.HttpResults;
using Plumbline.Server.Features.Annotate;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Pages;

/// <summary><see cref="ProjectAccess"/> for pages: a refusal is a page that says why, with the status code.</summary>
public static class PageAccess
{
    /// <summary>The caller's role, or the error page to return.</summary>
    /// <param name="hideForbidden">Answer 404 instead of 403, for pages whose existence a lower role should not learn about.</param>
    public static async Task<(string? Role, IResult? Denied)> RequireAsync(HttpContext http, ProjectAccess access, long id, string minimumRole,
        CancellationToken ct, bool hideForbidden = false)
    {
        var (role, denied) = await access.RequireAsync(http.User, id, minimumRole, ct);
        if (denied is null)
        {
            return (role, null);
        }
        var status = denied is IStatusCodeHttpResult { StatusCode: { } code } ? code : StatusCodes.Status403Forbidden;
        if (hideForbidden)
        {
            status = StatusCodes.Status404NotFound;
        }
        http.Response.StatusCode = status;
        return (null, new RazorComponentResult<ErrorPage>(new
        {
            Title = status == StatusCodes.Status404NotFound ? "Not found" : "Not allowed",
            Message = status == StatusCodes.Status404NotFound
                ? $"Project {id} does not exist, you are not a member of it, or this page of it is not open to you."
                : $"This page needs the {minimumRole} role in project {id}.",
            UserEmail = http.User.Email(),
        }));
    }
}
