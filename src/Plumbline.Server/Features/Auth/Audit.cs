using System.Text.Json;
using Plumbline.Data;

namespace Plumbline.Server.Features.Auth;

/// <summary>Records who did what; the event is saved in the same SaveChanges as the change itself.</summary>
public static class Audit
{
    public static void Record(this PlumblineDbContext db, TimeProvider clock, long? userId, long? projectId,
        string action, string entityType, object? entityId, object? data = null)
    {
        db.AuditEvents.Add(new AuditEvent
        {
            At = clock.GetUtcNow().UtcDateTime,
            UserId = userId,
            ProjectId = projectId,
            Action = action,
            EntityType = entityType,
            EntityId = entityId?.ToString(),
            DataJson = data is null ? null : JsonSerializer.Serialize(data, JsonSerializerOptions.Web),
        });
    }
}
