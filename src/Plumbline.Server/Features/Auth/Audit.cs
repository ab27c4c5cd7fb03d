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

    /// <summary>
    /// The event <see cref="Record"/> would save, as an INSERT to send with other raw statements, for hot paths that
    /// write without SaveChanges (the queue's submit and lease). Its placeholders are {first} to {first + 6}.
    /// </summary>
    public static (string Sql, object[] Parameters) InsertStatement(this PlumblineDbContext db, TimeProvider clock, long? userId, long? projectId,
        string action, string entityType, object? entityId, object? data, int first)
    {
        var sql = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"INSERT INTO audit_events (at, user_id, project_id, action, entity_type, entity_id, data_json) VALUES ({{{first}}}, {{{first + 1}}}, {{{first + 2}}}, {{{first + 3}}}, {{{first + 4}}}, {{{first + 5}}}, {{{first + 6}}});");
        return (sql,
        [
            clock.GetUtcNow().UtcDateTime, db.NullableParameter(userId), db.NullableParameter(projectId), action, entityType,
            db.NullableParameter(entityId?.ToString()),
            db.NullableParameter(data is null ? null : JsonSerializer.Serialize(data, JsonSerializerOptions.Web)),
        ]);
    }

    /// <summary>
    /// A value for EF's raw SQL (<c>SqlQueryRaw</c>, <c>ExecuteSqlRaw</c>), which cannot infer a type for null: a null
    /// becomes the provider's own parameter holding <see cref="DBNull"/>.
    /// </summary>
    public static object NullableParameter(this PlumblineDbContext db, object? value) => value
        ?? (db.IsPostgres ? new Npgsql.NpgsqlParameter { Value = DBNull.Value } : new Microsoft.Data.Sqlite.SqliteParameter { Value = DBNull.Value });
}
