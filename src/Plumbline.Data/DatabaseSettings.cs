using Microsoft.Data.Sqlite;
using Npgsql;

namespace Plumbline.Data;

/// <summary>Which database to use, read from one setting (<c>PLUMBLINE_DATABASE</c>).</summary>
public sealed record DatabaseSettings(DatabaseProvider Provider, string ConnectionString)
{
    public const string DefaultSqlitePath = "plumbline-data/plumbline.db";

    /// <summary>
    /// Accepts nothing (SQLite under ./plumbline-data), <c>sqlite:PATH</c>, a SQLite connection string
    /// (<c>Data Source=…</c>), a <c>postgres://user:pass@host:port/db</c> URL, or an Npgsql connection string (<c>Host=…</c>).
    /// </summary>
    public static DatabaseSettings Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return Sqlite(DefaultSqlitePath);
        }
        value = value.Trim();
        if (value.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            return Sqlite(value["sqlite:".Length..]);
        }
        if (value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
            || value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return new DatabaseSettings(DatabaseProvider.Postgres, FromPostgresUrl(new Uri(value)));
        }
        if (value.Contains("Host=", StringComparison.OrdinalIgnoreCase))
        {
            return new DatabaseSettings(DatabaseProvider.Postgres, new NpgsqlConnectionStringBuilder(value).ConnectionString);
        }
        if (value.Contains("Data Source=", StringComparison.OrdinalIgnoreCase))
        {
            return new DatabaseSettings(DatabaseProvider.Sqlite, new SqliteConnectionStringBuilder(value).ConnectionString);
        }
        throw new ArgumentException(
            "PLUMBLINE_DATABASE must be empty (SQLite under ./plumbline-data), sqlite:PATH, a postgres://user:pass@host:port/db URL, or a connection string with Host= or Data Source=");
    }

    private static DatabaseSettings Sqlite(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var builder = new SqliteConnectionStringBuilder { DataSource = full, Pooling = true, DefaultTimeout = 30 };
        return new DatabaseSettings(DatabaseProvider.Sqlite, builder.ConnectionString);
    }

    private static string FromPostgresUrl(Uri url)
    {
        var userInfo = url.UserInfo.Split(':', 2);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = url.Host,
            Port = url.IsDefaultPort || url.Port <= 0 ? 5432 : url.Port,
            Database = Uri.UnescapeDataString(url.AbsolutePath.TrimStart('/')),
            Username = userInfo.Length > 0 && userInfo[0].Length > 0 ? Uri.UnescapeDataString(userInfo[0]) : null,
            Password = userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : null,
        };
        foreach (var pair in url.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            builder[Uri.UnescapeDataString(kv[0])] = kv.Length > 1 ? Uri.UnescapeDataString(kv[1]) : "";
        }
        return builder.ConnectionString;
    }

    /// <summary>
    /// The folder for files that belong with the data (releases, the secret key file): the SQLite file's folder, or
    /// ./plumbline-data for PostgreSQL.
    /// </summary>
    public string DataFolder()
    {
        if (Provider == DatabaseProvider.Sqlite
            && new SqliteConnectionStringBuilder(ConnectionString).DataSource is { Length: > 0 } file
            && Path.GetDirectoryName(Path.GetFullPath(file)) is { } folder)
        {
            return folder;
        }
        return Path.GetFullPath("plumbline-data");
    }

    /// <summary>Where the data lives, without any password: safe to log.</summary>
    public string Describe() => Provider switch
    {
        DatabaseProvider.Sqlite => $"SQLite {new SqliteConnectionStringBuilder(ConnectionString).DataSource}",
        _ => DescribePostgres(),
    };

    private string DescribePostgres()
    {
        var b = new NpgsqlConnectionStringBuilder(ConnectionString);
        return $"PostgreSQL {b.Host}:{b.Port}/{b.Database}";
    }
}

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}
