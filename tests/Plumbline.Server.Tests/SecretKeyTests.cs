using System.Security.Cryptography;
using System.Xml.Linq;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Tests;

public class SecretKeyTests
{
    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task KeyRing_IsStoredInTheDatabaseOnlyEncrypted(string provider)
    {
        using var app = new TestApp(provider);
        // The sign-in page issues an antiforgery token, which makes Data Protection create and store its first key.
        (await app.Client(token: null).GetAsync("login")).StatusCode.ShouldBe(HttpStatusCode.OK);

        await using var db = app.NewDbContext();
        var stored = await db.Set<DataProtectionKey>().Select(k => k.Xml).ToListAsync(TestContext.Current.CancellationToken);
        stored.ShouldNotBeEmpty();
        foreach (var xml in stored)
        {
            // Unencrypted, the key's bytes sit in <masterKey><value>…; encrypted, only <encryptedSecret> remains.
            xml.ShouldContain("encryptedSecret");
            xml.ShouldContain(SecretKeyXmlEncryptor.ElementName);
            xml.ShouldNotContain("<masterKey");
        }
    }

    [Fact]
    public void DefaultSecret_IsAFileBesideTheDatabaseOnlyItsOwnerCanRead()
    {
        var folder = Directory.CreateTempSubdirectory("plumbline-secret-").FullName;
        var database = DatabaseSettings.Parse("sqlite:" + Path.Combine(folder, "plumbline.db"));
        var first = SecretKey.Resolve(new ConfigurationBuilder().Build(), database);

        var file = Path.Combine(folder, "secret.key");
        first.Source.ShouldBe(file);
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(file).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        // A restart reads the same file: the same secret, so keys stored before still open.
        SecretKey.Resolve(new ConfigurationBuilder().Build(), database).Id.ShouldBe(first.Id);
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void SecretTooShort_StopsTheStartNamingTheSetting()
    {
        var error = Should.Throw<InvalidOperationException>(() => SecretKey.Resolve(Settings("too-short"), Unused));
        error.Message.ShouldContain(SecretKey.Setting);
        error.Message.ShouldContain("at least 32 characters");
    }

    [Fact]
    public void EncryptedKey_OpensWithTheSameSecretAndIsRefusedByAnother()
    {
        var ours = SecretKey.Resolve(Settings("node-secret-0123456789-0123456789-abc"), Unused);
        var theirs = SecretKey.Resolve(Settings("another-secret-0123456789-0123456789-xyz"), Unused);
        var key = new XElement("masterKey", new XElement("value", Convert.ToBase64String(RandomNumberGenerator.GetBytes(64))));

        var encrypted = new SecretKeyXmlEncryptor(ours).Encrypt(key).EncryptedElement;
        encrypted.ToString().ShouldNotContain(key.Element("value")!.Value);
        new SecretKeyXmlDecryptor(Services(ours)).Decrypt(encrypted).ToString().ShouldBe(key.ToString());

        var refused = Should.Throw<CryptographicException>(() => new SecretKeyXmlDecryptor(Services(theirs)).Decrypt(encrypted));
        refused.Message.ShouldContain(SecretKey.Setting);

        // A tampered value fails authentication instead of yielding a wrong key.
        var tampered = new XElement(encrypted);
        var bytes = Convert.FromBase64String(tampered.Element("value")!.Value);
        bytes[0] ^= 1;
        tampered.Element("value")!.Value = Convert.ToBase64String(bytes);
        Should.Throw<CryptographicException>(() => new SecretKeyXmlDecryptor(Services(ours)).Decrypt(tampered));
    }

    /// <summary>A database whose folder is never touched: the secret comes from the setting.</summary>
    private static readonly DatabaseSettings Unused = new(DatabaseProvider.Sqlite, "Data Source=/nonexistent/plumbline.db");

    private static IConfiguration Settings(string secret) =>
        new ConfigurationBuilder().AddInMemoryCollection([new(SecretKey.Setting, secret)]).Build();

    private static ServiceProvider Services(SecretKey secret) => new ServiceCollection().AddSingleton(secret).BuildServiceProvider();
}
