using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Plumbline.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Quality : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "annotator_pauses",
                columns: table => new
                {
                    project_id = table.Column<long>(type: "INTEGER", nullable: false),
                    user_id = table.Column<long>(type: "INTEGER", nullable: false),
                    reason = table.Column<string>(type: "TEXT", maxLength: 500, nullable: false),
                    paused_by_id = table.Column<long>(type: "INTEGER", nullable: true),
                    paused_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_annotator_pauses", x => new { x.project_id, x.user_id });
                    table.ForeignKey(
                        name: "FK_annotator_pauses_projects_project_id",
                        column: x => x.project_id,
                        principalTable: "projects",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_annotator_pauses_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "item_comments",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    project_id = table.Column<long>(type: "INTEGER", nullable: false),
                    item_id = table.Column<long>(type: "INTEGER", nullable: false),
                    user_id = table.Column<long>(type: "INTEGER", nullable: false),
                    body = table.Column<string>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_item_comments", x => x.id);
                    table.ForeignKey(
                        name: "FK_item_comments_items_item_id",
                        column: x => x.item_id,
                        principalTable: "items",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "item_decisions",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    project_id = table.Column<long>(type: "INTEGER", nullable: false),
                    item_id = table.Column<long>(type: "INTEGER", nullable: false),
                    question = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    value_json = table.Column<string>(type: "TEXT", nullable: false),
                    comment = table.Column<string>(type: "TEXT", nullable: true),
                    decided_by_id = table.Column<long>(type: "INTEGER", nullable: false),
                    decided_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_item_decisions", x => x.id);
                    table.ForeignKey(
                        name: "FK_item_decisions_items_item_id",
                        column: x => x.item_id,
                        principalTable: "items",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_annotator_pauses_user_id",
                table: "annotator_pauses",
                column: "user_id");

            migrationBuilder.CreateIndex(
                name: "IX_item_comments_item_id_id",
                table: "item_comments",
                columns: new[] { "item_id", "id" });

            migrationBuilder.CreateIndex(
                name: "IX_item_decisions_item_id_question",
                table: "item_decisions",
                columns: new[] { "item_id", "question" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_item_decisions_project_id_item_id",
                table: "item_decisions",
                columns: new[] { "project_id", "item_id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "annotator_pauses");

            migrationBuilder.DropTable(
                name: "item_comments");

            migrationBuilder.DropTable(
                name: "item_decisions");
        }
    }
}
