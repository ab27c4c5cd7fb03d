using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Plumbline.Data;

namespace Plumbline.Server.Features.Auth;

/// <summary>
/// The server's own secret, kept out of the database: it encrypts the Data Protection key ring, which is stored in
/// the database and in turn protects model providers' API keys, sign-in cookies and antiforgery tokens. Without it a
/// copy of the database (a backup, a dump) would hold both the encrypted API keys and the keys that open them.
/// Read from <c>PLUMBLINE_SECRET_KEY</c> (every node of one database needs the same value), else from the file
/// <c>PLUMBLINE_SECRET_KEY_FILE</c>, by default <c>secret.key</c> in the data folder, created (owner-only) on first start.
/// </summary>
public sealed class SecretKey
{
    public const string Setting = "PLUMBLINE_SECRET_KEY";
    public const string FileSetting = "PLUMBLINE_SECRET_KEY_FILE";
    private const int MinimumLength = 32;

    private SecretKey(byte[] key, string source)
    {
        Key = key;
        Source = source;
        // A short public fingerprint, stored beside each encrypted key, so a wrong secret is named as such.
        Id = Convert.ToHexStringLower(SHA256.HashData(key).AsSpan(0, 8));
    }

    /// <summary>256 bits derived from the configured secret.</summary>
    internal byte[] Key { get; }

    public string Id { get; }

    /// <summary>Where the secret came from (the setting's name or the file's path), never the secret itself.</summary>
    public string Source { get; }

    public static SecretKey Resolve(IConfiguration configuration, DatabaseSettings database)
    {
        if (configuration[Setting] is { Length: > 0 } configured)
        {
            return FromText(configured, Setting);
        }
        var file = configuration[FileSetting] is { Length: > 0 } path
            ? Path.GetFullPath(path)
            : Path.Combine(database.DataFolder(), "secret.key");
        return FromText(ReadOrCreate(file), file);
    }

    private static SecretKey FromText(string text, string source)
    {
        text = text.Trim();
        if (text.Length < MinimumLength)
        {
            throw new InvalidOperationException(
                $"{source}: the secret key must be at least {MinimumLength} characters (for example `openssl rand -base64 32`).");
        }
        // HKDF turns any long enough text into a uniform 256-bit key; the info string binds it to this one use.
        var key = HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(text), 32,
            info: Encoding.UTF8.GetBytes("Plumbline.DataProtection.KeyRing"));
        return new SecretKey(key, source);
    }

    private static string ReadOrCreate(string file)
    {
        if (File.Exists(file))
        {
            return File.ReadAllText(file);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using var writer = new StreamWriter(file, Encoding.ASCII, options);
            writer.Write(secret);
            return secret;
        }
        catch (IOException) when (File.Exists(file))
        {
            // Another process on the same folder created it first: use theirs.
            return File.ReadAllText(file);
        }
    }
}

/// <summary>Encrypts each new Data Protection key with <see cref="SecretKey"/> (AES-256-GCM) before it is stored.</summary>
public sealed class SecretKeyXmlEncryptor(SecretKey secret) : IXmlEncryptor
{
    internal const string ElementName = "plumblineEncryptedKey";
    internal static readonly byte[] AssociatedData = Encoding.UTF8.GetBytes("Plumbline.DataProtection.KeyRing.v1");

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var nonce = RandomNumberGenerator.GetBytes(AesGcm.NonceByteSizes.MaxSize);
        var tag = new byte[AesGcm.TagByteSizes.MaxSize];
        var ciphertext = new byte[plaintext.Length];
        using (var aes = new AesGcm(secret.Key, tag.Length))
        {
            aes.Encrypt(nonce, plaintext, ciphertext, tag, AssociatedData);
        }
        var element = new XElement(ElementName,
            new XAttribute("secret", secret.Id),
            new XElement("nonce", Convert.ToBase64String(nonce)),
            new XElement("tag", Convert.ToBase64String(tag)),
            new XElement("value", Convert.ToBase64String(ciphertext)));
        return new EncryptedXmlInfo(element, typeof(SecretKeyXmlDecryptor));
    }
}

/// <summary>Opens keys written by <see cref="SecretKeyXmlEncryptor"/>; Data Protection creates it with the app's services.</summary>
public sealed class SecretKeyXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement)
    {
        var secret = services.GetRequiredService<SecretKey>();
        var id = (string?)encryptedElement.Attribute("secret");
        if (id != secret.Id)
        {
            throw new CryptographicException(
                $"A Data Protection key was encrypted with secret {id}, but this server's secret ({secret.Source}) is {secret.Id}: "
                + $"every node of one database needs the same {SecretKey.Setting}.");
        }
        var nonce = Convert.FromBase64String((string)encryptedElement.Element("nonce")!);
        var tag = Convert.FromBase64String((string)encryptedElement.Element("tag")!);
        var ciphertext = Convert.FromBase64String((string)encryptedElement.Element("value")!);
        var plaintext = new byte[ciphertext.Length];
        using (var aes = new AesGcm(secret.Key, tag.Length))
        {
            aes.Decrypt(nonce, ciphertext, tag, plaintext, SecretKeyXmlEncryptor.AssociatedData);
        }
        return XElement.Parse(Encoding.UTF8.GetString(plaintext));
    }
}
