using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Plumbline.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class QueuePolicies : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "submit_key",
                table: "responses",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "priority",
                table: "items",
                type: "double precision",
                nullable: false,
                defaultValue: 0.0);

            migrationBuilder.AddColumn<int>(
                name: "queue_state",
                table: "items",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            // Items that already have all their responses leave the claim indexes.
            migrationBuilder.Sql("UPDATE items SET queue_state = 2 WHERE submitted_count >= (SELECT p.overlap FROM projects p WHERE p.id = items.project_id)");

            migrationBuilder.CreateTable(
                name: "item_pins",
                columns: table => new
                {
                    item_id = table.Column<long>(type: "bigint", nullable: false),
                    principal = table.Column<string>(type: "character varying(400)", maxLength: 400, nullable: false),
                    project_id = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_item_pins", x => new { x.item_id, x.principal });
                    table.ForeignKey(
                        name: "FK_item_pins_items_item_id",
                        column: x => x.item_id,
                        principalTable: "items",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_items_queue_overlap_first",
                table: "items",
                columns: new[] { "project_id", "submitted_count", "priority", "id" },
                descending: new[] { false, true, true, false },
                filter: "queue_state = 0");

            migrationBuilder.CreateIndex(
                name: "ix_items_queue_random",
                table: "items",
                columns: new[] { "project_id", "id" },
                filter: "queue_state = 0");

            migrationBuilder.CreateIndex(
                name: "ix_items_queue_sequential",
                table: "items",
                columns: new[] { "project_id", "priority", "id" },
                descending: new[] { false, true, false },
                filter: "queue_state = 0");

            migrationBuilder.CreateIndex(
                name: "IX_item_pins_project_id_principal_item_id",
                table: "item_pins",
                columns: new[] { "project_id", "principal", "item_id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "item_pins");

            migrationBuilder.DropIndex(
                name: "ix_items_queue_overlap_first",
                table: "items");

            migrationBuilder.DropIndex(
                name: "ix_items_queue_random",
                table: "items");

            migrationBuilder.DropIndex(
                name: "ix_items_queue_sequential",
                table: "items");

            migrationBuilder.DropColumn(
                name: "submit_key",
                table: "responses");

            migrationBuilder.DropColumn(
                name: "priority",
                table: "items");

            migrationBuilder.DropColumn(
                name: "queue_state",
                table: "items");
        }
    }
}
