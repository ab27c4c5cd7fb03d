namespace Plumbline.Data.Migrations;

/// <summary>The data part of the LabellerRunsAsJobs migration, the same SQL for SQLite and PostgreSQL.</summary>
internal static class LabellerRunsAsJobsData
{
    /// <summary>One job per run; the run's id is kept in the settings until <see cref="LinkRunsToJobs"/> has used it.</summary>
    public const string CopyRunsToJobs = """
        INSERT INTO jobs (kind, project_id, status, settings_json, total, done, skipped, failed, prompt_tokens, completion_tokens, cost, error,
                          planned, plan_cursor, cancel_requested, created_by_id, created_at, started_at, finished_at)
        SELECT 'labeller', r.project_id,
               CASE WHEN r.status = 'completed' THEN 'succeeded' WHEN r.status IN ('failed', 'cancelled') THEN r.status ELSE 'queued' END,
               '{"migratedRun":' || CAST(r.id AS TEXT) || ',"concurrency":' || CAST(r.concurrency AS TEXT) || '}',
               CASE WHEN r.status IN ('completed', 'failed', 'cancelled') THEN COALESCE(r.total, 0) ELSE 0 END,
               CASE WHEN r.status IN ('completed', 'failed', 'cancelled') THEN r.done ELSE 0 END,
               0,
               CASE WHEN r.status IN ('completed', 'failed', 'cancelled') THEN r.failed ELSE 0 END,
               r.prompt_tokens, r.completion_tokens, COALESCE(r.cost, 0), r.error,
               r.status IN ('completed', 'failed', 'cancelled'), 0, r.status = 'cancelled', r.created_by_id, r.created_at, r.started_at,
               CASE WHEN r.status IN ('completed', 'failed', 'cancelled') THEN r.finished_at ELSE NULL END
        FROM labeller_runs r
        """;

    public const string LinkRunsToJobs = """
        UPDATE labeller_runs SET job_id = (SELECT j.id FROM jobs j WHERE j.kind = 'labeller'
            AND j.settings_json LIKE '{"migratedRun":' || CAST(labeller_runs.id AS TEXT) || ',%')
        """;
}
