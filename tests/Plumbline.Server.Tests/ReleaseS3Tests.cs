using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Configuration;
using Plumbline.Server.Features.Releases;

namespace Plumbline.Server.Tests;

/// <summary>Releases uploaded to a real S3-compatible server (s3rver) through the AWS SDK.</summary>
public class ReleaseS3Tests(S3rverFixture s3) : IClassFixture<S3rverFixture>
{
    private AmazonS3Client Client() => new(new BasicAWSCredentials(S3rverFixture.AccessKey, S3rverFixture.SecretKey),
        new AmazonS3Config { ServiceURL = s3.Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });

    /// <summary>The server reads S3 settings from its environment when an upload starts.</summary>
    private void UseS3rverCredentials()
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", S3rverFixture.AccessKey);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", S3rverFixture.SecretKey);
        Environment.SetEnvironmentVariable("PLUMBLINE_S3_ENDPOINT", s3.Endpoint);
    }

    private static async Task<byte[]> ReadObjectAsync(AmazonS3Client client, string key)
    {
        using var response = await client.GetObjectAsync(new GetObjectRequest { BucketName = S3rverFixture.Bucket, Key = key });
        using var memory = new MemoryStream();
        await response.ResponseStream.CopyToAsync(memory);
        return memory.ToArray();
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Create_WithS3_EveryFileUploadedWithTheSameBytes(string provider)
    {
        UseS3rverCredentials();
        var (s, project, _) = await ReleaseTests.AnsweredPairsAsync(provider, items: 3);
        var prefix = $"datasets/{provider}-{project}";

        var created = await ReleaseTests.CreateReleaseAsync(s.Admin, project,
            new { formats = new[] { "trl-preference", "hf" }, s3 = $"s3://{S3rverFixture.Bucket}/{prefix}" });

        created["release"]!["remoteLocation"]!.GetValue<string>().ShouldBe($"s3://{S3rverFixture.Bucket}/{prefix}/v1/");
        using var client = Client();
        var paths = created["manifest"]!["files"]!.AsArray().Select(f => f!["path"]!.GetValue<string>()).Append("manifest.json").ToList();
        foreach (var path in paths)
        {
            var local = await s.Admin.GetByteArrayAsync($"api/v1/projects/{project}/releases/1/files/{path}");
            (await ReadObjectAsync(client, $"{prefix}/v1/{path}")).ShouldBe(local, path);
        }
    }

    [Fact]
    public async Task Create_MissingBucket_FailedWithTheReasonAndNothingPublished()
    {
        UseS3rverCredentials();
        var (s, project, _) = await ReleaseTests.AnsweredPairsAsync("sqlite", items: 1);

        var failed = await ReleaseTests.CreateReleaseAsync(s.Admin, project, new { formats = new[] { "raw" }, s3 = "s3://no-such-bucket/x" }, "failed");

        failed["release"]!["error"]!.GetValue<string>().ShouldContain("could not upload");
        failed["manifest"].ShouldBeNull();
        var list = (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/releases"))!;
        list.Single()!["status"]!.GetValue<string>().ShouldBe("failed");
        var download = await s.Admin.GetAsync($"api/v1/projects/{project}/releases/1/files/manifest.json");
        await download.ShouldHaveStatusAsync(HttpStatusCode.Conflict);
        (await download.Content.ReadAsStringAsync()).ShouldContain("could not upload");
        var bad = await s.Admin.PostAsJsonAsync($"api/v1/projects/{project}/releases", new { formats = new[] { "raw" }, s3 = "https://bucket/x" });
        await bad.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        (await bad.Content.ReadAsStringAsync()).ShouldContain("must look like s3://bucket/prefix");
    }

    [Fact]
    public async Task Upload_FileLargerThanAPart_GoesUpInPartsAndReassemblesExactly()
    {
        var folder = Directory.CreateTempSubdirectory("plumbline-s3-multipart-").FullName;
        var data = new byte[(11 * 1024 * 1024) + 123];
        new Random(5).NextBytes(data);
        await File.WriteAllBytesAsync(Path.Combine(folder, "big.jsonl"), data);
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = S3rverFixture.AccessKey, ["AWS_SECRET_ACCESS_KEY"] = S3rverFixture.SecretKey,
            ["PLUMBLINE_S3_ENDPOINT"] = s3.Endpoint, ["PLUMBLINE_S3_PART_MB"] = "5",
        }).Build();

        var parts = await new S3Uploader(settings).UploadAsync(new S3Destination(S3rverFixture.Bucket, "multipart"), 7, folder, ["big.jsonl"], CancellationToken.None);

        using var client = Client();
        (await ReadObjectAsync(client, "multipart/v7/big.jsonl")).ShouldBe(data);
        parts["big.jsonl"].ShouldBe(3); // 5 + 5 + 1 MiB
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public async Task Cli_BuildFails_ReasonOnStderrAndNonZeroExit()
    {
        UseS3rverCredentials();
        var (s, project, _) = await ReleaseTests.AnsweredPairsAsync("sqlite", items: 1);

        var (exit, _, error) = await ReleaseCliTests.RunAsync(s.App, "release", "create", project.ToString(System.Globalization.CultureInfo.InvariantCulture), "-f", "raw",
            "--s3", "s3://no-such-bucket/x");

        exit.ShouldNotBe(0);
        error.ShouldContain("release v1 failed:");
        error.ShouldContain("could not upload");
    }
}
