namespace Plumbline.Server.Tests;

/// <summary>Cleaning at import: private information, duplicates (in the file and against the project), dry runs, the stored report.</summary>
public class PreparationImportTests
{
    private static async Task<JsonObject> ImportAsync(Scenario s, long project, string file, string query = "")
    {
        using var body = new StringContent(file);
        var response = await s.Admin.PostAsync($"api/v1/projects/{project}/import?fileName=notes.jsonl{query}", body);
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    private static async Task<string> ExportAsync(Scenario s, long project) => await s.Admin.GetStringAsync($"api/v1/projects/{project}/export");

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Import_PrivateInformation_IsRedactedWithTypedPlaceholders(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("sft-write");
        // 4111 1111 1111 1111 passes the Luhn check (a standard test card number).
        var report = await ImportAsync(s, project,
            """{"id":"p1","prompt":"Mail me at jane.doe@example.org or pay with 4111 1111 1111 1111, thanks a lot"}""");
        report["created"]!.GetValue<long>().ShouldBe(1);
        report["preparation"]!["ruleCounts"]!["pii.email"]!.GetValue<long>().ShouldBe(1);
        var export = await ExportAsync(s, project);
        export.ShouldContain("[EMAIL]");
        export.ShouldContain("[CREDIT_CARD]");
        export.ShouldNotContain("jane.doe@example.org");
        export.ShouldNotContain("4111 1111 1111 1111");
        // The report's example is masked too: the report is not a side door to the data.
        report["preparation"]!["examples"]!.ToJsonString().ShouldNotContain("jane.doe@example.org");
    }

    [Fact]
    public async Task Import_PiiFlagMode_KeepsTheTextAndMarksTheItem()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        await ImportAsync(s, project, """{"id":"p1","prompt":"Call me on +1 415 555 0132 tomorrow afternoon please"}""", "&pii=flag");
        var item = JsonNode.Parse((await ExportAsync(s, project)).Trim())!;
        item["fields"]!["prompt"]![0]!["content"]!.GetValue<string>().ShouldContain("415 555 0132");
        item["metadata"]!["preparation_flags"]!.AsArray().Count.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Import_NearDuplicateOfAStoredItem_IsDroppedAndTraceable()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        const string Text = "The quick brown fox jumps over the lazy dog near the river bank while the farmer watches from the old wooden fence and the sun sets slowly behind the distant hills of the valley";
        await ImportAsync(s, project, $$"""{"id":"orig","prompt":"{{Text}}"}""");
        var report = await ImportAsync(s, project,
            $$"""{"id":"copy","prompt":"{{Text.Replace("slowly ", "", StringComparison.Ordinal)}}"}""" + "\n" + """{"id":"fresh","prompt":"An entirely different request about baking sourdough bread at home with a starter"}""");
        report["created"]!.GetValue<long>().ShouldBe(1);
        report["dropped"]!.GetValue<long>().ShouldBe(1);
        var dropped = report["preparation"]!["droppedRecords"]!.AsArray().Single()!;
        dropped["recordId"]!.GetValue<string>().ShouldBe("copy");
        dropped["rule"]!.GetValue<string>().ShouldBe("dedup.near");
        var cluster = report["preparation"]!["duplicateClusters"]!.AsArray().Single()!;
        cluster["keptId"]!.GetValue<string>().ShouldBe("orig");

        // The stored report says the same, by its id.
        var stored = await s.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/imports/{report["importId"]}");
        stored!["preparation"]!["droppedRecords"]![0]!["recordId"]!.GetValue<string>().ShouldBe("copy");
        var list = await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/imports");
        list!.Count.ShouldBe(2);
    }

    [Fact]
    public async Task Import_DryRun_ReportsButStoresNothing()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        var report = await ImportAsync(s, project,
            """{"id":"a","prompt":"Tell me about volcanoes and how they form"}""" + "\n" + """{"id":"b","prompt":"Tell me about volcanoes and how they form"}""", "&dryRun=true");
        report["dryRun"]!.GetValue<bool>().ShouldBeTrue();
        report["committed"]!.GetValue<bool>().ShouldBeFalse();
        report["created"]!.GetValue<long>().ShouldBe(1);
        report["dropped"]!.GetValue<long>().ShouldBe(1);
        (await ExportAsync(s, project)).ShouldBeEmpty();
        (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/imports"))!.Count.ShouldBe(0);
    }

    [Fact]
    public async Task Import_MojibakeAndLanguageFilter_AreAppliedAsConfigured()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        // "café déjà vu" written as UTF-8 and read back as Windows-1252.
        var report = await ImportAsync(s, project,
            """{"id":"m","prompt":"We met at the cafÃ© and had dÃ©jÃ\u00a0 vu about the whole evening together"}""" + "\n" +
            """{"id":"de","prompt":"Wir haben uns gestern im Park getroffen und lange über das Wetter und die Arbeit gesprochen"}""",
            "&language=en");
        report["created"]!.GetValue<long>().ShouldBe(1);
        report["preparation"]!["droppedRecords"]![0]!["rule"]!.GetValue<string>().ShouldBe("filter.language");
        (await ExportAsync(s, project)).ShouldContain("café and had déjà vu");
    }

    [Fact]
    public async Task Import_BadPreparationSetting_Is400()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        using var body = new StringContent("""{"id":"a","prompt":"hello there"}""");
        var response = await s.Admin.PostAsync($"api/v1/projects/{project}/import?pii=shred", body);
        await response.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).ShouldContain("pii='shred'");
    }
}

public class PreparationRunTests
{
    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Prepare_OnStoredItems_RedactsDeletesUnansweredDuplicatesAndMarksAnsweredOnes(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("sft-write");
        const string Repeated = "Explain how vaccines train the immune system to recognise a virus";
        using (var body = new StringContent(
            $$"""
            {"id":"first","prompt":"{{Repeated}}"}
            {"id":"answered-copy","prompt":"{{Repeated}}"}
            {"id":"idle-copy","prompt":"{{Repeated}}"}
            {"id":"secret","prompt":"My address is bob@example.com, please summarise my inbox for me"}
            """))
        {
            await (await s.Admin.PostAsync($"api/v1/projects/{project}/import?prepare=false", body)).ShouldHaveStatusAsync(HttpStatusCode.OK);
        }
        // Someone answers one of the copies before the clean-up.
        var (annotator, _) = await s.MemberAsync(project);
        JsonObject? task;
        while ((task = await Scenario.NextAsync(annotator, project)) is not null && task["externalId"]!.GetValue<string>() != "answered-copy")
        {
            await annotator.PostAsJsonAsync($"api/v1/assignments/{task["assignmentId"]}/skip", new { reason = "later" });
        }
        await (await Scenario.SubmitAsync(annotator, task!["assignmentId"]!.GetValue<long>(), new JsonObject { ["ideal_response"] = "Vaccines..." }))
            .ShouldHaveStatusAsync(HttpStatusCode.OK);

        var dry = await (await s.Admin.PostAsync($"api/v1/projects/{project}/prepare?dryRun=true", null)).Content.ReadFromJsonAsync<JsonObject>();
        dry!["deleted"]!.GetValue<long>().ShouldBe(1);
        dry["excluded"]!.GetValue<long>().ShouldBe(1);
        (await s.Admin.GetStringAsync($"api/v1/projects/{project}/export")).ShouldContain("bob@example.com");

        var run = await s.Admin.PostAsync($"api/v1/projects/{project}/prepare", null);
        await run.ShouldHaveStatusAsync(HttpStatusCode.OK);
        var report = (await run.Content.ReadFromJsonAsync<JsonObject>())!;
        report["changed"]!.GetValue<long>().ShouldBe(1);
        var export = (await s.Admin.GetStringAsync($"api/v1/projects/{project}/export")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonNode.Parse(l)!).ToDictionary(i => i["external_id"]!.GetValue<string>());
        export.Keys.ShouldBe(["first", "answered-copy", "secret"], ignoreOrder: true);
        export["secret"]["fields"]!.ToJsonString().ShouldContain("[EMAIL]");
        export["answered-copy"]["metadata"]!["preparation_excluded"]!["duplicateOf"]!.GetValue<string>().ShouldBe("first");
        export["answered-copy"]["responses"]!.AsArray().Count.ShouldBe(1);
    }
}
