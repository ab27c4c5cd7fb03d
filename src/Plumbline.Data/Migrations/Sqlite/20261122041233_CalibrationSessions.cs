using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Plumbline.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class CalibrationSessions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "calibration_sessions",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    project_id = table.Column<long>(type: "INTEGER", nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    previous_session_id = table.Column<long>(type: "INTEGER", nullable: true),
                    guideline_version = table.Column<int>(type: "INTEGER", nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    created_by_id = table.Column<long>(type: "INTEGER", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    closed_at = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_calibration_sessions", x => x.id);
                    table.ForeignKey(
                        name: "FK_calibration_sessions_calibration_sessions_previous_session_id",
                        column: x => x.previous_session_id,
                        principalTable: "calibration_sessions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.SetNull);
                    table.ForeignKey(
                        name: "FK_calibration_sessions_projects_project_id",
                        column: x => x.project_id,
                        principalTable: "projects",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "calibration_answers",
                columns: table => new
                {
                    session_id = table.Column<long>(type: "INTEGER", nullable: false),
                    item_id = table.Column<long>(type: "INTEGER", nullable: false),
                    user_id = table.Column<long>(type: "INTEGER", nullable: false),
                    values_json = table.Column<string>(type: "TEXT", nullable: false),
                    guideline_version = table.Column<int>(type: "INTEGER", nullable: false),
                    submitted_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_calibration_answers", x => new { x.session_id, x.item_id, x.user_id });
                    table.ForeignKey(
                        name: "FK_calibration_answers_calibration_sessions_session_id",
                        column: x => x.session_id,
                        principalTable: "calibration_sessions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_calibration_answers_items_item_id",
                        column: x => x.item_id,
                        principalTable: "items",
                        principalColumn: "id");
                    table.ForeignKey(
                        name: "FK_calibration_answers_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "calibration_items",
                columns: table => new
                {
                    session_id = table.Column<long>(type: "INTEGER", nullable: false),
                    item_id = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_calibration_items", x => new { x.session_id, x.item_id });
                    table.ForeignKey(
                        name: "FK_calibration_items_calibration_sessions_session_id",
                        column: x => x.session_id,
                        principalTable: "calibration_sessions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_calibration_items_items_item_id",
                        column: x => x.item_id,
                        principalTable: "items",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_calibration_answers_item_id",
                table: "calibration_answers",
                column: "item_id");

            migrationBuilder.CreateIndex(
                name: "IX_calibration_answers_user_id",
                table: "calibration_answers",
                column: "user_id");

            migrationBuilder.CreateIndex(
                name: "IX_calibration_items_item_id",
                table: "calibration_items",
                column: "item_id");

            migrationBuilder.CreateIndex(
                name: "IX_calibration_sessions_previous_session_id",
                table: "calibration_sessions",
                column: "previous_session_id");

            migrationBuilder.CreateIndex(
                name: "IX_calibration_sessions_project_id_status",
                table: "calibration_sessions",
                columns: new[] { "project_id", "status" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "calibration_answers");

            migrationBuilder.DropTable(
                name: "calibration_items");

            migrationBuilder.DropTable(
                name: "calibration_sessions");
        }
    }
}
