namespace Plumbline.Data;

/// <summary>
/// A compiled query (<c>EF.CompileAsyncQuery</c>) kept once per provider. A compiled query binds to the model of the
/// first context that runs it and reuses that SQL afterwards; a process that holds both providers (the test host)
/// would send SQLite's SQL to PostgreSQL or the reverse. Compiling on first use per provider keeps one per model.
/// </summary>
/// <param name="compile">Makes the compiled query; called at most once per provider (twice in a race, harmlessly).</param>
public sealed class PerProvider<TQuery>(Func<TQuery> compile) where TQuery : class
{
    private TQuery? sqlite;
    private TQuery? postgres;

    /// <summary>The compiled query for the provider of <paramref name="db"/>.</summary>
    public TQuery For(PlumblineDbContext db) => db.IsPostgres ? postgres ??= compile() : sqlite ??= compile();
}
