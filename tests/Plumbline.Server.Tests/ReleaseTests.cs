using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Plumbline.Data;
using Plumbline.Server.Features.Quality;

namespace Plumbline.Server.Tests;

/// <summary>Releases over real HTTP on both providers: built from real annotations, read back through the download endpoint.</summary>
public class ReleaseTests
{
    /// <summary>
    /// A pairwise project of <paramref name="items"/> items, answered by three annotators. Everyone prefers the "Good"
    /// candidate, except that the third annotator dissents on item-0 (so its consensus is 2 of 3).
    /// </summary>
    internal static async Task<(Scenario S, long Project, List<string> Annotators)> AnsweredPairsAsync(string provider, int items = 4)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise", overlap: 3);
        await s.ImportPairsAsync(project, items);
        var emails = new List<string>();
        for (var a = 0; a < 3; a++)
        {
            var (client, email) = await s.MemberAsync(project);
            emails.Add(email);
            while (await Scenario.NextAsync(client, project) is { } task)
            {
                var candidates = task["fields"]!["candidates"]!.AsArray();
                var dissent = a == 2 && task["externalId"]?.GetValue<string>() == "item-0";
                var pick = candidates.First(c => c!["content"]!.GetValue<string>().StartsWith("Good", StringComparison.Ordinal) != dissent)!;
                var values = new JsonObject { ["preference"] = new JsonObject { ["choice"] = pick["id"]!.GetValue<string>(), ["strength"] = a + 1 } };
                await (await Scenario.SubmitAsync(client, task["assignmentId"]!.GetValue<long>(), values)).ShouldHaveStatusAsync(HttpStatusCode.OK);
            }
        }
        return (s, project, emails);
    }

    private static Task<JsonObject> CreateAsync(Scenario s, long project, object body) => CreateReleaseAsync(s.Admin, project, body);

    /// <summary>Queues a release (202 with its location) and polls the location until the worker finished it; returns the final detail.</summary>
    internal static async Task<JsonObject> CreateReleaseAsync(HttpClient client, long project, object body, string expectedStatus = "ready")
    {
        var response = await client.PostAsJsonAsync($"api/v1/projects/{project}/releases", body);
        await response.ShouldHaveStatusAsync(HttpStatusCode.Accepted);
        var location = response.Headers.Location!.ToString();
        var queued = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        location.ShouldEndWith($"/releases/{queued["release"]!["version"]!.GetValue<int>()}");
        return await WaitAsync(client, location, expectedStatus);
    }

    /// <summary>Polls a release until it is ready or failed (the test host's own timeout bounds the wait).</summary>
    internal static async Task<JsonObject> WaitAsync(HttpClient client, string location, string expectedStatus = "ready")
    {
        while (true)
        {
            var detail = (await client.GetFromJsonAsync<JsonObject>(location, TestContext.Current.CancellationToken))!;
            var status = detail["release"]!["status"]!.GetValue<string>();
            if (status is "ready" or "failed")
            {
                status.ShouldBe(expectedStatus, detail["release"]!["error"]?.GetValue<string>());
                return detail;
            }
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    private static async Task<byte[]> DownloadAsync(HttpClient client, long project, int version, string path)
    {
        var response = await client.GetAsync($"api/v1/projects/{project}/releases/{version}/files/{path}");
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
        return await response.Content.ReadAsByteArrayAsync();
    }

    private static List<JsonObject> Lines(byte[] bytes) =>
        Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Create_AnsweredPairs_TrlPreferenceFromConsensusWithPseudonymousLineage(string provider)
    {
        var (s, project, emails) = await AnsweredPairsAsync(provider);

        var created = await CreateAsync(s, project, new { formats = new[] { "trl-preference", "hf" }, split = new { validation = 0, test = 0 } });

        created["release"]!["version"]!.GetValue<int>().ShouldBe(1);
        var manifest = created["manifest"]!;
        manifest["counts"]!["items"]!.GetValue<long>().ShouldBe(4);
        manifest["counts"]!["responses"]!.GetValue<long>().ShouldBe(12);
        manifest["counts"]!["annotators"]!.GetValue<int>().ShouldBe(3);
        manifest["questions"]!["preference"]!["method"]!.GetValue<string>().ShouldBe("majority");
        manifest["guidelineVersions"]!.AsObject().Count.ShouldBe(1);
        var records = Lines(await DownloadAsync(s.Admin, project, 1, "trl-preference/train.jsonl"));
        records.Count.ShouldBe(4);
        foreach (var r in records)
        {
            var i = r["lineage"]!["external_id"]!.GetValue<string>()["item-".Length..];
            r["prompt"]!.GetValue<string>().ShouldBe($"Question {i}?");
            r["chosen"]!.GetValue<string>().ShouldBe($"Good answer {i}");
            r["rejected"]!.GetValue<string>().ShouldBe($"Bad answer {i}");
            r["lineage"]!["response_ids"]!.AsArray().Count.ShouldBe(3);
            var annotators = r["lineage"]!["annotators"]!.AsArray().Select(a => a!.GetValue<string>()).ToList();
            annotators.ShouldAllBe(a => a.StartsWith("a_", StringComparison.Ordinal));
            annotators.Distinct().Count().ShouldBe(3);
        }
        var text = Encoding.UTF8.GetString(await DownloadAsync(s.Admin, project, 1, "trl-preference/train.jsonl"));
        emails.ShouldAllBe(e => !text.Contains(e, StringComparison.Ordinal));
        // The file's hash in the manifest is the hash of the bytes served.
        var entry = manifest["files"]!.AsArray().First(f => f!["path"]!.GetValue<string>() == "trl-preference/train.jsonl")!;
        entry["sha256"]!.GetValue<string>().ShouldBe(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text))));
        var card = Encoding.UTF8.GetString(await DownloadAsync(s.Admin, project, 1, "hf-trl-preference/README.md"));
        card.ShouldContain("  - split: train\n    path: data/train.jsonl");
        Lines(await DownloadAsync(s.Admin, project, 1, "hf-trl-preference/data/train.jsonl")).Count.ShouldBe(4);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Create_SameStateAndSettingsTwice_ByteIdenticalFilesAndHashes(string provider)
    {
        var (s, project, _) = await AnsweredPairsAsync(provider, items: 6);
        var settings = new { formats = new[] { "trl-preference-chat", "raw", "csv", "reward-pairs", "hf" }, split = new { validation = 0.2, test = 0.2, seed = 11 } };

        var first = await CreateAsync(s, project, settings);
        var second = await CreateAsync(s, project, settings);

        second["release"]!["version"]!.GetValue<int>().ShouldBe(2);
        var files1 = first["manifest"]!["files"]!.AsArray();
        var files2 = second["manifest"]!["files"]!.AsArray();
        files2.ToJsonString().ShouldBe(files1.ToJsonString());
        foreach (var f in files1)
        {
            var path = f!["path"]!.GetValue<string>();
            var bytes1 = await DownloadAsync(s.Admin, project, 1, path);
            var bytes2 = await DownloadAsync(s.Admin, project, 2, path);
            bytes2.ShouldBe(bytes1, path);
            Convert.ToHexStringLower(SHA256.HashData(bytes1)).ShouldBe(f["sha256"]!.GetValue<string>(), path);
        }
        files1.Count.ShouldBe((5 * 3) + 1 + 1); // five formats × three splits, the index, the dataset card
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Diff_NewItemsAndAChangedAnswer_CountedAsAddedAndChanged(string provider)
    {
        var (s, project, _) = await AnsweredPairsAsync(provider, items: 3);
        await CreateAsync(s, project, new { formats = new[] { "raw" } });
        // Two more items, answered by a fourth annotator; and an extra answer on item-0 would exceed overlap,
        // so the change comes from a reviewer's correction of one response.
        await s.ImportAsync(project, """
            {"id":"item-10","prompt":"Question 10?","chosen":"Good answer 10","rejected":"Bad answer 10"}
            {"id":"item-11","prompt":"Question 11?","chosen":"Good answer 11","rejected":"Bad answer 11"}
            """);
        var (late, _) = await s.MemberAsync(project);
        while (await Scenario.NextAsync(late, project) is { } task)
        {
            var id = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
            await (await Scenario.SubmitAsync(late, task["assignmentId"]!.GetValue<long>(), Scenario.Prefer(id))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        }
        await using (var db = s.App.NewDbContext())
        {
            var item = db.Items.Single(i => i.ProjectId == project && i.ExternalId == "item-1");
            var response = db.Responses.OrderBy(r => r.Id).First(r => r.ItemId == item.Id);
            db.Reviews.Add(new Data.Review { ProjectId = project, ResponseId = response.Id, ReviewerId = 1, Verdict = "reject", CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
        }
        await CreateAsync(s, project, new { formats = new[] { "raw" } });

        var diff = await s.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/releases/v1/diff/v2");

        diff!["added"]!.GetValue<long>().ShouldBe(2);
        diff["addedIds"]!.AsArray().Select(i => i!.GetValue<string>()).ShouldBe(["item-10", "item-11"]);
        diff["removed"]!.GetValue<long>().ShouldBe(0);
        diff["changed"]!.GetValue<long>().ShouldBe(1);
        diff["changedIds"]!.AsArray().Single()!.GetValue<string>().ShouldBe("item-1");
        diff["unchanged"]!.GetValue<long>().ShouldBe(2);
        var v2 = Lines(await DownloadAsync(s.Admin, project, 2, "raw/train.jsonl"))
            .Concat(Lines(await DownloadAsync(s.Admin, project, 2, "raw/validation.jsonl")))
            .Concat(Lines(await DownloadAsync(s.Admin, project, 2, "raw/test.jsonl")));
        v2.Single(r => r["external_id"]!.GetValue<string>() == "item-1")["answers"]!.AsArray().Count.ShouldBe(2); // the rejected response is out
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Create_FilterMinConfidence_LeavesOutTheContestedItem(string provider)
    {
        var (s, project, emails) = await AnsweredPairsAsync(provider);

        var created = await CreateAsync(s, project, new
        {
            formats = new[] { "trl-preference" }, filter = new { minConfidence = 0.9 }, split = new { validation = 0, test = 0 }, realAnnotatorIds = true,
        });

        var counts = created["manifest"]!["counts"]!;
        counts["items"]!.GetValue<long>().ShouldBe(3);
        counts["itemsMatched"]!.GetValue<long>().ShouldBe(4);
        counts["excluded"]!["consensus confidence below 0.9"]!.GetValue<long>().ShouldBe(1);
        var records = Lines(await DownloadAsync(s.Admin, project, 1, "trl-preference/train.jsonl"));
        records.ShouldAllBe(r => r["lineage"]!["external_id"]!.GetValue<string>() != "item-0");
        records[0]["lineage"]!["annotators"]!.AsArray().Select(a => a!.GetValue<string>()).ShouldBe(emails, ignoreOrder: true);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Create_FormatThatDoesNotFit_400AndNothingCreated(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("sft-write");

        var response = await s.Admin.PostAsJsonAsync($"api/v1/projects/{project}/releases", new { formats = new[] { "trl-sft", "trl-preference" } });

        await response.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).ShouldContain("format 'trl-preference' needs pairs of candidates");
        (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/releases"))!.Count.ShouldBe(0);
        var badMethod = await s.Admin.PostAsJsonAsync($"api/v1/projects/{project}/releases",
            new { formats = new[] { "trl-sft" }, methods = new Dictionary<string, string> { ["ideal_response"] = "median" } });
        await badMethod.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        (await badMethod.Content.ReadAsStringAsync()).ShouldContain("use all or first");
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Create_Queued_202ThenBuiltInTheBackgroundWithProgress(string provider)
    {
        var (s, project, _) = await AnsweredPairsAsync(provider, items: 3);

        var response = await s.Admin.PostAsJsonAsync($"api/v1/projects/{project}/releases", new { formats = new[] { "raw" } });

        await response.ShouldHaveStatusAsync(HttpStatusCode.Accepted);
        var queued = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        queued["release"]!["status"]!.GetValue<string>().ShouldBeOneOf("queued", "building", "ready");
        var done = await WaitAsync(s.Admin, response.Headers.Location!.ToString());
        done["release"]!["progress"]!.GetValue<long>().ShouldBe(3);
        done["release"]!["total"]!.GetValue<long>().ShouldBe(3);
        done["release"]!["finishedAt"].ShouldNotBeNull();
        done["manifest"]!["counts"]!["items"]!.GetValue<long>().ShouldBe(3);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Worker_BuildingReleaseOfAStoppedServer_QueuedAgainOrFailedAfterThreeStarts(string provider)
    {
        var (s, project, _) = await AnsweredPairsAsync(provider, items: 2);
        var stale = s.App.Clock.GetUtcNow().UtcDateTime.AddMinutes(-10);
        await using (var db = s.App.NewDbContext())
        {
            // As a server that crashed mid-build leaves them: building, heartbeat long gone.
            foreach (var (version, attempts) in new[] { (1, 1), (2, 3) })
            {
                db.Set<Release>().Add(new Release
                {
                    ProjectId = project, Version = version, Status = "building", SettingsJson = "{}", RequestJson = """{"formats":["raw"]}""",
                    Location = Path.Combine(s.App.ReleasesFolder, "unused"), CreatedById = 1, CreatedAt = stale, HeartbeatAt = stale, Attempts = attempts,
                });
            }
            await db.SaveChangesAsync(TestContext.Current.CancellationToken);
        }

        // A new release wakes the worker, which first recovers the stale ones.
        await CreateAsync(s, project, new { formats = new[] { "raw" } });

        var retried = await WaitAsync(s.Admin, $"api/v1/projects/{project}/releases/1");
        retried["manifest"]!["counts"]!["items"]!.GetValue<long>().ShouldBe(2);
        var failed = await WaitAsync(s.Admin, $"api/v1/projects/{project}/releases/2", "failed");
        failed["release"]!["error"]!.GetValue<string>().ShouldContain("stopped 3 times");
        var list = (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/releases"))!;
        list.Select(r => r!["status"]!.GetValue<string>()).ShouldBe(["ready", "failed", "ready"]);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Create_ItemWithBrokenStoredFields_FailsNamingTheItemAndLeavesNoFolder(string provider)
    {
        var (s, project, _) = await AnsweredPairsAsync(provider, items: 260);
        string stored;
        await using (var db = s.App.NewDbContext())
        {
            // As a database edited outside Plumbline could hold it; the item sits on the second page the build reads.
            var item = db.Items.Single(i => i.ProjectId == project && i.ExternalId == "item-255");
            stored = item.FieldsJson;
            item.FieldsJson = "{\"prompt\": [";
            await db.SaveChangesAsync(TestContext.Current.CancellationToken);
        }

        var failed = await CreateReleaseAsync(s.Admin, project, new { formats = new[] { "trl-preference", "raw" } }, "failed");

        var error = failed["release"]!["error"]!.GetValue<string>();
        error.ShouldContain("'item-255'");
        error.ShouldContain("not valid JSON");
        var folder = s.App.Services.GetRequiredService<Features.Releases.ReleaseStorage>().FolderOf(project, 1);
        Directory.Exists(folder).ShouldBeFalse();
        Directory.GetDirectories(Path.GetDirectoryName(folder)!, Path.GetFileName(folder) + ".partial-*").ShouldBeEmpty();
        // The next release of the mended project is built as usual.
        await using (var db = s.App.NewDbContext())
        {
            db.Items.Single(i => i.ProjectId == project && i.ExternalId == "item-255").FieldsJson = stored;
            await db.SaveChangesAsync(TestContext.Current.CancellationToken);
        }
        var ready = await CreateAsync(s, project, new { formats = new[] { "trl-preference" } });
        ready["manifest"]!["counts"]!["items"]!.GetValue<long>().ShouldBe(260);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task StatusFragment_WhileBuildingPollsWithProgress_WhenReadyReloadsThePage(string provider)
    {
        var (s, project, _) = await AnsweredPairsAsync(provider, items: 1);
        await CreateAsync(s, project, new { formats = new[] { "raw" } });
        await using (var db = s.App.NewDbContext())
        {
            // Another server's build in progress: a fresh heartbeat, so this server's worker leaves it alone.
            db.Set<Release>().Add(new Release
            {
                ProjectId = project, Version = 2, Status = "building", SettingsJson = """{"formats":["raw"]}""", RequestJson = """{"formats":["raw"]}""",
                Location = Path.Combine(s.App.ReleasesFolder, "unused"), CreatedById = 1, CreatedAt = DateTime.UtcNow,
                HeartbeatAt = DateTime.UtcNow.AddYears(10), Attempts = 1, Progress = 1234, Total = 5000,
            });
            await db.SaveChangesAsync(TestContext.Current.CancellationToken);
        }

        var building = await s.Admin.GetAsync($"/projects/{project}/releases/2/status");
        await building.ShouldHaveStatusAsync(HttpStatusCode.OK);
        var html = await building.Content.ReadAsStringAsync();
        html.ShouldContain("hx-trigger=\"every 1s\"");
        html.ShouldContain("1,234 of 5,000 items read");
        building.Headers.Contains("HX-Refresh").ShouldBeFalse();
        var ready = await s.Admin.GetAsync($"/projects/{project}/releases/1/status");
        ready.Headers.GetValues("HX-Refresh").ShouldBe(["true"]);
        (await ready.Content.ReadAsStringAsync()).ShouldNotContain("hx-trigger=\"every");
        var download = await s.Admin.GetAsync($"api/v1/projects/{project}/releases/2/files/manifest.json");
        await download.ShouldHaveStatusAsync(HttpStatusCode.Conflict);
        (await download.Content.ReadAsStringAsync()).ShouldContain("release v2 is building (1234 of 5000 items read)");
        var (annotator, _) = await s.MemberAsync(project, "annotator");
        (await annotator.GetAsync($"/projects/{project}/releases/2/status")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await annotator.GetAsync($"/projects/{project}/releases")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Releases_OnlyManagers_AnnotatorForbiddenOutsiderNotFound(string provider)
    {
        var (s, project, _) = await AnsweredPairsAsync(provider, items: 1);
        await CreateAsync(s, project, new { formats = new[] { "raw" } });
        var (annotator, _) = await s.MemberAsync(project, "annotator");
        var (reviewer, _) = await s.MemberAsync(project, "reviewer");
        var (manager, _) = await s.MemberAsync(project, "manager");
        var other = await s.CreateProjectAsync("pairwise");
        var (outsider, _) = await s.MemberAsync(other, "manager");

        (await annotator.GetAsync($"api/v1/projects/{project}/releases")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await reviewer.GetAsync($"api/v1/projects/{project}/releases/1/files/raw/train.jsonl")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await annotator.PostAsJsonAsync($"api/v1/projects/{project}/releases", new { formats = new[] { "raw" } })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await outsider.GetAsync($"api/v1/projects/{project}/releases/1")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var list = await manager.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/releases");
        list!.Single()!["name"]!.GetValue<string>().ShouldBe("v1");
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Download_PathOutsideTheRelease_NotFound(string provider)
    {
        var (s, project, _) = await AnsweredPairsAsync(provider, items: 1);
        await CreateAsync(s, project, new { formats = new[] { "raw" } });

        (await s.Admin.GetAsync($"api/v1/projects/{project}/releases/1/files/..%2F..%2Fplumbline.db")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await s.Admin.GetAsync($"api/v1/projects/{project}/releases/1/files/raw/nothing.jsonl")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await s.Admin.GetAsync($"api/v1/projects/{project}/releases/9")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await s.Admin.GetAsync($"api/v1/projects/{project}/releases/1/files/manifest.json")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Create_StratifiedByMetadata_EachLanguageGetsTheShares_AndMetadataFilterKeepsOne(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise", overlap: 1);
        var lines = Enumerable.Range(0, 20).Select(i =>
            $$$"""{"id":"m-{{{i}}}","prompt":"Q{{{i}}}","chosen":"Good {{{i}}}","rejected":"Bad {{{i}}}","metadata":{"lang":"{{{(i < 15 ? "en" : "de")}}}"}}""");
        await (await s.ImportAsync(project, string.Join('\n', lines))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var (annotator, _) = await s.MemberAsync(project);
        while (await Scenario.NextAsync(annotator, project) is { } task)
        {
            var id = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
            await (await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), Scenario.Prefer(id))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        }

        var all = await CreateAsync(s, project, new { formats = new[] { "raw" }, split = new { validation = 0.2, test = 0.2, seed = 5, stratifyBy = "lang" } });
        var german = await CreateAsync(s, project, new { formats = new[] { "raw" }, filter = new { metadata = new { lang = "de" } } });

        var records = new List<JsonObject>();
        foreach (var split in new[] { "train", "validation", "test" })
        {
            records.AddRange(Lines(await DownloadAsync(s.Admin, project, 1, $"raw/{split}.jsonl")));
        }
        string Count(string lang) => string.Join(",", new[] { "train", "validation", "test" }
            .Select(split => records.Count(r => r["metadata"]!["lang"]!.GetValue<string>() == lang && r["split"]!.GetValue<string>() == split)));
        Count("en").ShouldBe("9,3,3"); // 15 × 0.6 / 0.2 / 0.2
        Count("de").ShouldBe("3,1,1"); // 5 × 0.6 / 0.2 / 0.2
        all["manifest"]!["counts"]!["items"]!.GetValue<long>().ShouldBe(20);
        german["manifest"]!["counts"]!["items"]!.GetValue<long>().ShouldBe(5);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Create_ExpertDecisionAndReviewerCorrections_ReleaseUsesTheirValues(string provider)
    {
        var (s, project, _) = await AnsweredPairsAsync(provider);
        string bad0, bad1;
        List<long> item1Responses;
        await using (var db = s.App.NewDbContext())
        {
            string BadId(string externalId) => JsonNode.Parse(db.Items.Single(i => i.ProjectId == project && i.ExternalId == externalId).FieldsJson)!
                ["candidates"]!.AsArray().First(c => c!["content"]!.GetValue<string>().StartsWith("Bad", StringComparison.Ordinal))!["id"]!.GetValue<string>();
            bad0 = BadId("item-0");
            bad1 = BadId("item-1");
            var item1 = db.Items.Single(i => i.ProjectId == project && i.ExternalId == "item-1").Id;
            item1Responses = [.. db.Responses.Where(r => r.ItemId == item1).OrderBy(r => r.Id).Select(r => r.Id)];
        }
        var (reviewer, _) = await s.MemberAsync(project, "reviewer");
        // item-0 (2 of 3 for the good answer): an expert decides for the bad one.
        await (await reviewer.PutAsJsonAsync($"api/v1/projects/{project}/items/item-0/decision",
            new { question = "preference", value = new { choice = bad0 } })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        // item-1 (unanimous): a reviewer corrects two of the three answers, which turns the majority.
        foreach (var id in item1Responses.Take(2))
        {
            await (await reviewer.PostAsJsonAsync($"api/v1/responses/{id}/review",
                new { verdict = "correct", values = new { preference = new { choice = bad1, strength = 2 } } })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        }

        await CreateAsync(s, project, new { formats = new[] { "trl-preference", "raw" }, split = new { validation = 0, test = 0 } });

        var records = Lines(await DownloadAsync(s.Admin, project, 1, "trl-preference/train.jsonl"))
            .ToDictionary(r => r["lineage"]!["external_id"]!.GetValue<string>());
        records["item-0"]["chosen"]!.GetValue<string>().ShouldBe("Bad answer 0");
        records["item-0"]["rejected"]!.GetValue<string>().ShouldBe("Good answer 0");
        records["item-1"]["chosen"]!.GetValue<string>().ShouldBe("Bad answer 1");
        records["item-2"]["chosen"]!.GetValue<string>().ShouldBe("Good answer 2");
        var raw = Lines(await DownloadAsync(s.Admin, project, 1, "raw/train.jsonl")).ToDictionary(r => r["external_id"]!.GetValue<string>());
        var decided = raw["item-0"]["consensus"]!["preference"]!;
        decided["value"]!.GetValue<string>().ShouldBe(bad0);
        decided["decided"]!.GetValue<bool>().ShouldBeTrue();
        decided["confidence"]!.GetValue<double>().ShouldBe(1);
        decided["answers"]!.GetValue<int>().ShouldBe(3); // the annotators' votes stay on record beside the expert's value
        raw["item-1"]["consensus"]!["preference"]!["decided"].ShouldBeNull();

        // One rule: the quality report's per-item consensus gives the expert's value for the same item.
        using var scope = s.App.Services.CreateScope();
        var quality = await scope.ServiceProvider.GetRequiredService<QualityService>()
            .ItemConsensusAsync(project, QualityMethods.Majority, Plumbline.Core.Quality.ConsensusMethod.Mean, TestContext.Current.CancellationToken);
        var fromQuality = quality.Values.Single(i => i.ExternalId == "item-0").Consensus.Single();
        fromQuality.Decided.ShouldBeTrue();
        fromQuality.Value!["choice"]!.GetValue<string>().ShouldBe(decided["value"]!.GetValue<string>());
    }
}
