using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Plumbline.Core.Releases;
using Plumbline.Core.Releases.Formats;
using Plumbline.Core.Schema;
using static Plumbline.Core.Tests.Releases.ReleaseTestData;

namespace Plumbline.Core.Tests.Releases;

/// <summary>Every format is written and read back: the records a training library would see.</summary>
public sealed class ReleaseFormatTests
{
    private static readonly ProjectSchema Pairwise = Template("pairwise");

    /// <summary>Three pairwise items: b wins 2–1 with strengths; a split vote (a tie, no pair); a wins unanimously.</summary>
    private static List<ReleaseItem> PairItems() =>
    [
        Item(Pairwise, 1, Pair("What is 2+2?", "5", "4"), Prefer("b", 3), Prefer("a", 1), Prefer("b", 2)),
        Item(Pairwise, 2, Pair("Capital of France?", "Paris", "Lyon"), Prefer("a"), Prefer("b")),
        Item(Pairwise, 3, Pair("Say hi", "Hi", "Go away"), Prefer("a", 1), Prefer("a", 1), Prefer("a", 1)),
    ];

    [Fact]
    public void TrlPreference_Plain_WritesPromptChosenRejectedStringsForDecisiveItems()
    {
        var (files, _) = Write(Pairwise, PairItems(), "trl-preference");

        var records = Lines(files["trl-preference/train.jsonl"]);

        records.Count.ShouldBe(2);
        records[0]["prompt"]!.GetValue<string>().ShouldBe("What is 2+2?");
        records[0]["chosen"]!.GetValue<string>().ShouldBe("4");
        records[0]["rejected"]!.GetValue<string>().ShouldBe("5");
        records[1]["chosen"]!.GetValue<string>().ShouldBe("Hi");
        var lineage = records[0]["lineage"]!;
        lineage["item_id"]!.GetValue<long>().ShouldBe(1);
        lineage["external_id"]!.GetValue<string>().ShouldBe("item-1");
        lineage["response_ids"]!.AsArray().Select(n => n!.GetValue<long>()).ShouldBe([10L, 11L, 12L]);
        lineage["annotators"]!.AsArray().Select(n => n!.GetValue<string>()).ShouldBe(["u1", "u2", "u3"]);
    }

    [Fact]
    public void TrainingFormats_StoredTextWithEscapes_WriteTheSameBytesAsPlainText()
    {
        // Texts go from the stored bytes to the output without a string; however the stored JSON escaped them, the
        // output escapes them one way: quotes, backslashes, line breaks, non-ASCII, a surrogate pair, markup.
        const string prompt = "Café \"quoted\" \\ back\nslash <b>bold</b> 😀";
        const string good = "Ça va\tbien & </script>";
        const string bad = "ünïcödé";
        var plain = System.Text.Json.JsonSerializer.Serialize(Pair(prompt, good, bad), StoredJson.Options);
        var escaped = System.Text.Json.JsonSerializer.Serialize(Pair(prompt, good, bad)); // the default encoder writes \u00e9, \u003C …
        escaped.ShouldContain("\\u00E9", Case.Insensitive);
        plain.ShouldNotBe(escaped);
        ReleaseItem Stored(string fields)
        {
            var answers = new[] { Prefer("b", 2), Prefer("b", 3) }.Select((v, i) => new ReleaseAnswer(i + 1, "u" + i, 1, v.ToJsonString())).ToList();
            var item = new ReleaseItem { ItemId = 1, ExternalId = "item-1", FieldsUtf8 = Encoding.UTF8.GetBytes(fields), Answers = answers };
            item.Consensus = ReleaseBuilder.Consensus(Pairwise, new Dictionary<string, string>(), item.FieldsElement, answers);
            return item;
        }
        string[] formats = ["trl-preference", "trl-preference-chat", "reward-pairs", "kto", "openai-chat", "raw"];

        var (fromPlain, _) = Write(Pairwise, [Stored(plain)], formats);
        var (fromEscaped, _) = Write(Pairwise, [Stored(escaped)], formats);

        foreach (var (path, bytes) in fromPlain.Where(f => f.Key != ReleaseBuilder.IndexPath))
        {
            Encoding.UTF8.GetString(fromEscaped[path]).ShouldBe(Encoding.UTF8.GetString(bytes), path);
        }
        var record = Lines(fromPlain["trl-preference/train.jsonl"]).Single();
        record["prompt"]!.GetValue<string>().ShouldBe(prompt);
        record["chosen"]!.GetValue<string>().ShouldBe(bad);
        record["rejected"]!.GetValue<string>().ShouldBe(good);
        // Non-ASCII text is written as it is, not as \u escapes (the JSONL files are UTF-8 for people to read too).
        Encoding.UTF8.GetString(fromEscaped["trl-preference/train.jsonl"]).ShouldContain("Café");
        Encoding.UTF8.GetString(fromEscaped["trl-preference-chat/train.jsonl"]).ShouldContain("ünïcödé");
    }

    [Fact]
    public void TrlPreference_Conversational_WritesMessages()
    {
        var (files, _) = Write(Pairwise, PairItems(), "trl-preference-chat");

        var first = Lines(files["trl-preference-chat/train.jsonl"])[0];

        first["prompt"]!.ToJsonString(StoredJson.Options).ShouldBe("""[{"role":"user","content":"What is 2+2?"}]""");
        first["chosen"]!.ToJsonString(StoredJson.Options).ShouldBe("""[{"role":"assistant","content":"4"}]""");
        first["rejected"]!.ToJsonString(StoredJson.Options).ShouldBe("""[{"role":"assistant","content":"5"}]""");
    }

    [Fact]
    public void RewardPairs_Preference_MarginIsConsensusStrength()
    {
        var (files, _) = Write(Pairwise, PairItems(), "reward-pairs");

        var records = Lines(files["reward-pairs/train.jsonl"]);

        records.Select(r => r["margin"]!.GetValue<double>()).ShouldBe([2.5, 1.0]);
    }

    [Fact]
    public void Kto_Preference_ChosenIsDesirableRejectedIsNot()
    {
        var (files, _) = Write(Pairwise, PairItems(), "kto");

        var records = Lines(files["kto/train.jsonl"]);

        records.Select(r => (r["completion"]!.GetValue<string>(), r["label"]!.GetValue<bool>()))
            .ShouldBe([("4", true), ("5", false), ("Hi", true), ("Go away", false)]);
        records.ShouldAllBe(r => r["prompt"]!.GetValue<string>().Length > 0);
    }

    [Fact]
    public void OpenAiChat_Preference_WinnerBecomesTheAssistantMessage()
    {
        var (files, _) = Write(Pairwise, PairItems(), "openai-chat");

        var records = Lines(files["openai-chat/train.jsonl"]);

        records.Count.ShouldBe(2);
        records[0]["messages"]!.ToJsonString(StoredJson.Options).ShouldBe("""[{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"}]""");
    }

    [Fact]
    public void OpenAiChat_Lineage_InSidecarInRecordOrderNotInTheRecords()
    {
        var (files, manifest) = Write(Pairwise, PairItems(), "openai-chat", "trl-sft", "hf:openai-chat");

        // OpenAI's validator rejects unknown keys ("Example N contains an extra ..."), so records hold messages only.
        var records = Lines(files["openai-chat/train.jsonl"]);
        records.ShouldAllBe(r => r.Count == 1 && r.ContainsKey("messages"));
        var lineage = Lines(files["openai-chat/train.lineage.jsonl"]);
        lineage.Select(l => l["item_id"]!.GetValue<long>()).ShouldBe([1L, 3L]);
        lineage[0]["response_ids"]!.AsArray().Select(n => n!.GetValue<long>()).ShouldBe([10L, 11L, 12L]);
        var entry = manifest.Files.Single(f => f.Path == "openai-chat/train.lineage.jsonl");
        entry.Records.ShouldBe(2);
        entry.Sha256.ShouldBe(Convert.ToHexStringLower(SHA256.HashData(files["openai-chat/train.lineage.jsonl"])));
        // trl-sft (the same shape for TRL, which keeps extra columns) and Hugging Face folders keep lineage inline.
        Lines(files["trl-sft/train.jsonl"]).ShouldAllBe(r => r.ContainsKey("lineage"));
        Lines(files["hf-openai-chat/data/train.jsonl"]).ShouldAllBe(r => r.ContainsKey("lineage"));
        files.Keys.ShouldNotContain(k => k.StartsWith("hf-openai-chat/", StringComparison.Ordinal) && k.Contains("lineage", StringComparison.Ordinal));
    }

    [Fact]
    public void SftFormats_WrittenAnswers_OneRecordPerAnswer()
    {
        var schema = Template("sft-write");
        JsonObject W(string t) => new() { ["ideal_response"] = t };
        var fields = new JsonObject
        {
            ["prompt"] = new JsonArray(
                new JsonObject { ["role"] = "system", ["content"] = "Be brief." },
                new JsonObject { ["role"] = "user", ["content"] = "Hello" },
                new JsonObject { ["role"] = "assistant", ["content"] = "Hi!" },
                new JsonObject { ["role"] = "user", ["content"] = "Name a colour" }),
        };
        var items = new[] { Item(schema, 1, fields, W("Blue."), W("Red, \"crimson\".")) };

        var (files, _) = Write(schema, items, "trl-sft", "trl-prompt-completion", "alpaca", "sharegpt");

        var sft = Lines(files["trl-sft/train.jsonl"]);
        sft.Count.ShouldBe(2);
        sft[1]["messages"]!.AsArray().Select(m => m!["role"]!.GetValue<string>()).ShouldBe(["system", "user", "assistant", "user", "assistant"]);
        sft[1]["messages"]![4]!["content"]!.GetValue<string>().ShouldBe("Red, \"crimson\".");

        var pc = Lines(files["trl-prompt-completion/train.jsonl"])[0];
        pc["prompt"]!.AsArray().Count.ShouldBe(4); // a chat prompt gives the conversational form
        pc["completion"]!.ToJsonString(StoredJson.Options).ShouldBe("""[{"role":"assistant","content":"Blue."}]""");

        var alpaca = Lines(files["alpaca/train.jsonl"])[0];
        alpaca["instruction"]!.GetValue<string>().ShouldBe("Name a colour");
        alpaca["input"]!.GetValue<string>().ShouldBe("System: Be brief.\n\nUser: Hello\n\nAssistant: Hi!");
        alpaca["output"]!.GetValue<string>().ShouldBe("Blue.");

        var share = Lines(files["sharegpt/train.jsonl"])[0];
        share["conversations"]!.AsArray().Select(t => t!["from"]!.GetValue<string>()).ShouldBe(["system", "human", "gpt", "human", "gpt"]);
    }

    [Fact]
    public void PromptCompletion_TextPrompt_WritesPlainStrings()
    {
        var schema = Template("prompt-writing");
        var item = Item(schema, 1, new JsonObject { ["topic"] = "Cooking, for beginners" },
            new JsonObject { ["prompt"] = "How do I boil an egg?", ["category"] = "open_qa" });

        var (files, _) = Write(schema, [item], "trl-prompt-completion");

        var record = Lines(files["trl-prompt-completion/train.jsonl"])[0];
        record["prompt"]!.GetValue<string>().ShouldBe("Cooking, for beginners");
        record["completion"]!.GetValue<string>().ShouldBe("How do I boil an egg?");
    }

    [Fact]
    public void RankingPairs_ThreeCandidates_AllThreeOrderedPairsBetterFirst()
    {
        var schema = Template("ranking");
        var fields = Pair("Q", "A", "B");
        ((JsonArray)fields["candidates"]!).Add(new JsonObject { ["id"] = "c", ["content"] = "C" });
        JsonObject Rank(params string[] order) => new() { ["ranking"] = new JsonArray(order.Select(o => (JsonNode)o).ToArray()) };
        var item = Item(schema, 1, fields, Rank("b", "a", "c"), Rank("b", "c", "a"), Rank("a", "b", "c"));

        var (files, _) = Write(schema, [item], "ranking-pairs", "trl-preference", "reward-pairs");

        var pairs = Lines(files["ranking-pairs/train.jsonl"]);
        pairs.Select(p => (p["chosen_id"]!.GetValue<string>(), p["rejected_id"]!.GetValue<string>())).ShouldBe([("b", "a"), ("b", "c"), ("a", "c")]);
        pairs.Select(p => p["margin"]!.GetValue<double>()).ShouldBe([Math.Round(2 - (4 / 3.0), 6), Math.Round((8 / 3.0) - (4 / 3.0), 6), Math.Round((8 / 3.0) - 2, 6)]);
        pairs[0]["chosen"]!.GetValue<string>().ShouldBe("B");
        // DPO takes the best against the worst; the reward model gets every pair.
        var dpo = Lines(files["trl-preference/train.jsonl"]).ShouldHaveSingleItem();
        (dpo["chosen"]!.GetValue<string>(), dpo["rejected"]!.GetValue<string>()).ShouldBe(("B", "C"));
        Lines(files["reward-pairs/train.jsonl"]).Count.ShouldBe(3);
    }

    [Fact]
    public void Rubric_ScoresPerDimension()
    {
        var schema = Template("rubric");
        JsonObject S(int a, int h, int s, int f) => new() { ["accuracy"] = a, ["helpfulness"] = h, ["safety"] = s, ["format"] = f };
        var fields = new JsonObject { ["prompt"] = Chat("Explain tides")["prompt"]!.DeepClone(), ["response"] = "The moon pulls the sea." };
        var item = Item(schema, 1, fields, S(4, 5, 5, 3), S(4, 4, 5, 3), S(2, 4, 5, 4));

        var (files, _) = Write(schema, [item], "rubric");

        var r = Lines(files["rubric/train.jsonl"]).ShouldHaveSingleItem();
        r["prompt"]!.GetValue<string>().ShouldBe("Explain tides");
        r["response"]!.GetValue<string>().ShouldBe("The moon pulls the sea.");
        r["scores"]!.AsObject().Select(p => p.Key).ShouldBe(["accuracy", "helpfulness", "safety", "format"]);
        r["scores"]!["accuracy"]!["value"]!.GetValue<double>().ShouldBe(4);
        r["scores"]!["accuracy"]!["ratings"]!.AsArray().Select(v => v!.GetValue<double>()).ShouldBe([4.0, 4.0, 2.0]);
        // Normalised medians 0.75, 0.75, 1, 0.5 average to 0.75.
        r["overall"]!.GetValue<double>().ShouldBe(0.75);
    }

    [Fact]
    public void Safety_LabelAndCategories()
    {
        var schema = Template("safety");
        var fields = new JsonObject { ["prompt"] = Chat("How to pick a lock?")["prompt"]!.DeepClone(), ["response"] = "Step 1…" };
        JsonObject V(string v, params string[] c) => c.Length == 0 ? new() { ["verdict"] = v }
            : new() { ["verdict"] = v, ["categories"] = new JsonArray(c.Select(x => (JsonNode)x).ToArray()) };
        var item = Item(schema, 1, fields, V("unsafe", "non_violent_crimes"), V("unsafe", "non_violent_crimes", "privacy"), V("safe"));

        var (files, _) = Write(schema, [item], "safety", "raw");

        var r = Lines(files["safety/train.jsonl"]).ShouldHaveSingleItem();
        r["label"]!.GetValue<string>().ShouldBe("unsafe");
        r["confidence"]!.GetValue<double>().ShouldBe(Math.Round(2 / 3.0, 6));
        r["categories"]!.AsArray().Select(c => c!.GetValue<string>()).ShouldBe(["non_violent_crimes"]);
    }

    [Fact]
    public void Raw_CarriesFieldsAnswersAndConsensus()
    {
        var (files, _) = Write(Pairwise, PairItems(), "raw");

        var records = Lines(files["raw/train.jsonl"]);

        records.Count.ShouldBe(3); // raw keeps undecided items too
        records[1]["consensus"]!["preference"]!["value"]!.GetValue<string>().ShouldBe("tie");
        records[0]["answers"]!.AsArray().Count.ShouldBe(3);
        records[0]["answers"]![0]!["values"]!["preference"]!["choice"]!.GetValue<string>().ShouldBe("b");
        records[0]["fields"]!["candidates"]![1]!["content"]!.GetValue<string>().ShouldBe("4");
    }

    [Fact]
    public void Csv_RoundTripsQuotedCellsAndConsensus()
    {
        var (files, _) = Write(Pairwise, PairItems(), "csv");

        var rows = ParseCsv(Encoding.UTF8.GetString(files["csv/train.csv"]));

        rows[0].ShouldBe(["item_id", "external_id", "split", "prompt", "candidates", "preference", "preference_confidence", "response_ids", "annotators"]);
        rows.Count.ShouldBe(4);
        rows[1][0].ShouldBe("1");
        rows[1][5].ShouldBe("b");
        rows[1][6].ShouldBe(Math.Round(2 / 3.0, 6).ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        JsonNode.Parse(rows[1][4])![1]!["content"]!.GetValue<string>().ShouldBe("4"); // JSON with commas and quotes survives quoting
        rows[1][7].ShouldBe("10 11 12");
    }

    [Fact]
    public void HuggingFaceFolder_WritesDataPerSplitAndACardDeclaringThem()
    {
        var items = PairItems().Select((item, i) => new ReleaseItem
        {
            ItemId = item.ItemId, ExternalId = item.ExternalId, Fields = item.Fields, Answers = item.Answers, Consensus = item.Consensus,
            Split = i == 2 ? Splits.Test : Splits.Train,
        }).ToList();

        var (files, manifest) = Write(Pairwise, items, "hf");

        Lines(files["hf-trl-preference/data/train.jsonl"]).Count.ShouldBe(1);
        Lines(files["hf-trl-preference/data/test.jsonl"]).Count.ShouldBe(1);
        var card = Encoding.UTF8.GetString(files["hf-trl-preference/README.md"]);
        card.ShouldStartWith("---\n");
        var yaml = card[4..card.IndexOf("\n---\n", StringComparison.Ordinal)];
        yaml.ShouldContain("pretty_name: \"Test project\"");
        yaml.ShouldContain("configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train.jsonl\n  - split: test\n    path: data/test.jsonl");
        yaml.ShouldNotContain("validation"); // an empty split is not declared
        yaml.ShouldContain("size_categories:\n- n<1K");
        card.ShouldContain("| preference | preference | majority | 3 | 8 |");
        manifest.Files.ShouldContain(f => f.Path == "hf-trl-preference/README.md" && f.Format == "card");
    }

    [Theory]
    [InlineData("sft-write", "trl-preference", "needs pairs of candidates")]
    [InlineData("pairwise", "ranking-pairs", "needs a ranking question")]
    [InlineData("safety", "rubric", "needs rating questions")]
    [InlineData("rubric", "safety", "needs a label question")]
    [InlineData("rubric", "openai-chat", "needs completions")]
    [InlineData("pairwise", "parquet", "unknown format 'parquet'")]
    [InlineData("pairwise", "hf:csv", "holds a JSONL format")]
    public void Builder_FormatThatDoesNotFit_IsRefusedBeforeAnyFileIsCreated(string template, string format, string message)
    {
        var created = new List<string>();

        var ex = Should.Throw<ReleaseException>(() => new ReleaseBuilder(Template(template), [format], new Dictionary<string, string>(), true,
            path => { created.Add(path); return new MemoryStream(); }));

        ex.Message.ShouldContain(message);
        created.ShouldBeEmpty();
    }

    [Fact]
    public void Builder_SameItemsTwice_SameBytesAndHashes()
    {
        var (first, m1) = Write(Pairwise, PairItems(), "trl-preference", "raw", "csv", "hf");
        var (second, m2) = Write(Pairwise, PairItems(), "trl-preference", "raw", "csv", "hf");

        first.Keys.ShouldBe(second.Keys);
        foreach (var (path, bytes) in first)
        {
            second[path].ShouldBe(bytes, path);
        }
        m1.Files.Select(f => f.Sha256).ShouldBe(m2.Files.Select(f => f.Sha256));
        var entry = m1.Files.Single(f => f.Path == "raw/train.jsonl");
        entry.Sha256.ShouldBe(Convert.ToHexStringLower(SHA256.HashData(first["raw/train.jsonl"])));
        entry.Records.ShouldBe(3);
        entry.Bytes.ShouldBe(first["raw/train.jsonl"].Length);
    }

    [Fact]
    public void Builder_Manifest_CountsAndAgreement()
    {
        var (files, manifest) = Write(Pairwise, PairItems(), "trl-preference");

        manifest.Counts.Items.ShouldBe(3);
        manifest.Counts.Responses.ShouldBe(8);
        manifest.Counts.Annotators.ShouldBe(3);
        manifest.GuidelineVersions[1].ShouldBe(8);
        var q = manifest.Questions["preference"];
        q.Method.ShouldBe("majority");
        q.AgreementMetric.ShouldBe("krippendorff_alpha_nominal");
        q.MeanConfidence.ShouldBe(Math.Round(((2 / 3.0) + 0.5 + 1) / 3, 6));
        // Krippendorff's alpha, nominal, by hand: pairable values b,a,b | a,b | a,a,a (coded by candidate).
        // Coincidences: item 1 gives o(a,b)=o(b,a)=2·1/2=1, o(b,b)=2·1/2=1; item 2 gives o(a,b)=o(b,a)=1; item 3 gives o(a,a)=3·2/2=3.
        // n_a = 4 + … : o(a,a)=3, o(a,b)=2, o(b,a)=2, o(b,b)=1; n_a=5, n_b=3, n=8.
        // D_o = (2+2)/8 = 0.5; D_e = 2·5·3/(8·7) = 30/56; alpha = 1 − 0.5/(30/56) = 1 − 28/30.
        q.Agreement!.Value.ShouldBe(Math.Round(1 - (28 / 30.0), 6), 1e-6);
        Lines(files[ReleaseBuilder.IndexPath]).Select(l => l["item_id"]!.GetValue<long>()).ShouldBe([1L, 2L, 3L]);
    }

    [Fact]
    public void Fitting_ListsOnlyFormatsTheTemplateCanFill()
    {
        ReleaseFormats.Fitting(Template("pairwise")).ShouldBe(
            ["openai-chat", "trl-sft", "trl-prompt-completion", "trl-preference", "trl-preference-chat", "kto", "reward-pairs", "alpaca", "sharegpt", "raw", "csv", "hf"]);
        ReleaseFormats.Fitting(Template("rubric")).ShouldBe(["kto", "rubric", "raw", "csv", "hf"]);
    }

    /// <summary>RFC 4180 reader for the test: quoted fields with doubled quotes, CRLF records.</summary>
    private static List<List<string>> ParseCsv(string text)
    {
        var rows = new List<List<string>>();
        var row = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (ch == '"')
                {
                    quoted = false;
                }
                else
                {
                    cell.Append(ch);
                }
            }
            else if (ch == '"')
            {
                quoted = true;
            }
            else if (ch == ',')
            {
                row.Add(cell.ToString());
                cell.Clear();
            }
            else if (ch == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                row.Add(cell.ToString());
                cell.Clear();
                rows.Add(row);
                row = [];
                i++;
            }
            else
            {
                cell.Append(ch);
            }
        }
        return rows;
    }
}
