using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Plumbline.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ReleaseJobs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "attempts",
                table: "releases",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "error",
                table: "releases",
                type: "TEXT",
                maxLength: 2000,
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "finished_at",
                table: "releases",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "heartbeat_at",
                table: "releases",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "progress",
                table: "releases",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<string>(
                name: "request_json",
                table: "releases",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "total",
                table: "releases",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_releases_status_id",
                table: "releases",
                columns: new[] { "status", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_releases_status_id",
                table: "releases");

            migrationBuilder.DropColumn(
                name: "attempts",
                table: "releases");

            migrationBuilder.DropColumn(
                name: "error",
                table: "releases");

            migrationBuilder.DropColumn(
                name: "finished_at",
                table: "releases");

            migrationBuilder.DropColumn(
                name: "heartbeat_at",
                table: "releases");

            migrationBuilder.DropColumn(
                name: "progress",
                table: "releases");

            migrationBuilder.DropColumn(
                name: "request_json",
                table: "releases");

            migrationBuilder.DropColumn(
                name: "total",
                table: "releases");
        }
    }
}
