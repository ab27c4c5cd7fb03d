using System.Text.Json.Nodes;
using Plumbline.Core.Models;

namespace Plumbline.Core.Tests.Models;

public class PromptTemplateTests
{
    private static readonly JsonObject Fields = JsonNode.Parse("""
        {"prompt": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi?"}],
         "topic": "geology", "candidates": [{"id": "a", "content": "One"}, {"id": "b", "content": "Two"}], "score": 3}
        """)!.AsObject();

    [Fact]
    public void Render_FieldsMetadataAndExternalId_AreReplacedByTheirText()
    {
        var text = PromptTemplate.Render("[{{external_id}}] {{ topic }} / {{metadata.lang}}\n{{prompt}}\n{{candidates}}\n{{score}}{{missing}}",
            "x-1", Fields, new JsonObject { ["lang"] = "de" });

        text.ShouldBe("[x-1] geology / de\nsystem: Be kind.\nuser: Hi?\n[a] One\n\n[b] Two\n3");
    }

    [Fact]
    public void Names_ListsEachPlaceholderOnceInOrder()
    {
        PromptTemplate.Names("{{b}} {{ a }} {{b}} {{metadata.k}} {single} {{ not valid! }}").ShouldBe(["b", "a", "metadata.k"]);
    }

    [Fact]
    public void Render_TextThatLooksLikeAPlaceholder_IsNotExpandedTwice()
    {
        var fields = new JsonObject { ["a"] = "{{b}}", ["b"] = "secret" };
        PromptTemplate.Render("{{a}}", "id", fields, null).ShouldBe("{{b}}");
    }
}
