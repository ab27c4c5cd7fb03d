using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Plumbline.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class LabellerRunsAsJobs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_labeller_runs_status_id",
                table: "labeller_runs");

            migrationBuilder.AddColumn<long>(
                name: "job_id",
                table: "labeller_runs",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            // Every run becomes a job of kind "labeller" with its counters; a run that had not finished starts again from the
            // first item (its results are replaced item by item, as after any restart).
            migrationBuilder.Sql(LabellerRunsAsJobsData.CopyRunsToJobs);
            migrationBuilder.Sql(LabellerRunsAsJobsData.LinkRunsToJobs);

            migrationBuilder.DropColumn(
                name: "completion_tokens",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "concurrency",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "cost",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "cursor",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "done",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "error",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "failed",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "finished_at",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "lease_expires_at",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "lease_owner",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "started_at",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "status",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "total",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "prompt_tokens",
                table: "labeller_runs");

            migrationBuilder.CreateIndex(
                name: "IX_labeller_runs_job_id",
                table: "labeller_runs",
                column: "job_id",
                unique: true);

            migrationBuilder.AddForeignKey(
                name: "FK_labeller_runs_jobs_job_id",
                table: "labeller_runs",
                column: "job_id",
                principalTable: "jobs",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "FK_labeller_runs_jobs_job_id",
                table: "labeller_runs");

            migrationBuilder.DropIndex(
                name: "IX_labeller_runs_job_id",
                table: "labeller_runs");

            migrationBuilder.DropColumn(
                name: "job_id",
                table: "labeller_runs");

            migrationBuilder.AddColumn<long>(
                name: "prompt_tokens",
                table: "labeller_runs",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "completion_tokens",
                table: "labeller_runs",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<int>(
                name: "concurrency",
                table: "labeller_runs",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<double>(
                name: "cost",
                table: "labeller_runs",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "cursor",
                table: "labeller_runs",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<int>(
                name: "done",
                table: "labeller_runs",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "error",
                table: "labeller_runs",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "failed",
                table: "labeller_runs",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTime>(
                name: "finished_at",
                table: "labeller_runs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "lease_expires_at",
                table: "labeller_runs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "lease_owner",
                table: "labeller_runs",
                type: "character varying(100)",
                maxLength: 100,
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "started_at",
                table: "labeller_runs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "status",
                table: "labeller_runs",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<int>(
                name: "total",
                table: "labeller_runs",
                type: "integer",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_labeller_runs_status_id",
                table: "labeller_runs",
                columns: new[] { "status", "id" });
        }
    }
}
