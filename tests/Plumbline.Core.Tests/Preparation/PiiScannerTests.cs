using System.Globalization;
using System.Text;
using Plumbline.Core.Preparation;

namespace Plumbline.Core.Tests.Preparation;

/// <summary>
/// Precision and recall of each detector on labelled sentences written for this test. "{{TYPE|value}}" marks a span
/// that must be found; everything else, including the near-misses, must not be.
/// </summary>
public class PiiScannerTests(ITestOutputHelper output)
{
    private static readonly string[] Corpus =
    [
        // e-mail
        "Write to {{EMAIL|john.doe@example.com}} before Friday.",
        "Tagged address {{EMAIL|a.b-c+news@sub.example.co.uk}}, then a full stop.",
        "Mixed case {{EMAIL|Maria_Lopez99@Correo.ES}} works too.",
        "<{{EMAIL|ops@my-company.io}}> in angle brackets",
        "mailto:{{EMAIL|help@plumbline.dev}}?subject=hi",
        "Unicode local part: {{EMAIL|josé@example.fr}}.",
        "Near misses: user@localhost, @mention, icon@2x.png, lodash@4.17.21, foo@bar, name@domain..com, x@y.z.",
        "Also not addresses: email at example dot com, user@-example.com, a@b, @@double.com",
        // phone
        "Call {{PHONE|+1 415 555 2671}} or {{PHONE|+44 20 7946 0958}}.",
        "Berlin office {{PHONE|+49 30 12345678}}, Paris {{PHONE|+33 6 12 34 56 78}}.",
        "US style {{PHONE|(415) 555-2671}}, {{PHONE|415-555-2671}} and {{PHONE|415.555.2671}}.",
        "Toll free {{PHONE|1-800-555-0199}}; compact {{PHONE|+14155552671}}.",
        "National numbers {{PHONE|020 7946 0958}}, {{PHONE|06 12 34 56 78}}, {{PHONE|030 1234567}}.",
        "Near misses: on 2024-01-15 at 12:30:45, build 10.0.19041.1, ISBN 978-3-16-148410-0, ZIP 94105-1234.",
        "Also not phones: 1,234,567.89 dollars, order 123456789012, coordinates 48.8566, 2.3522, ratio 0.5 0.25.",
        "Dates like 15.01.2024 and 2024/01/15 and ranges 10-20-30 are not numbers to call.",
        // credit cards
        "Card {{CREDIT_CARD|4111 1111 1111 1111}} expires 12/26.",
        "Stored {{CREDIT_CARD|4242424242424242}} and {{CREDIT_CARD|5555-5555-5555-4444}}.",
        "Amex {{CREDIT_CARD|378282246310005}} or grouped {{CREDIT_CARD|3714 496353 98431}}.",
        "Discover {{CREDIT_CARD|6011 0009 9013 9424}}, JCB {{CREDIT_CARD|3530111333300000}}, Diners {{CREDIT_CARD|30569309025904}}.",
        "Mastercard 2-series {{CREDIT_CARD|2223003122003222}}, UnionPay {{CREDIT_CARD|6200000000000005}}.",
        "Near misses: 4111 1111 1111 1112 fails Luhn, 1234 5678 9012 3456 too, 9876543210123 is an order.",
        "Luhn-valid without an issuer prefix: 1234567890123452 and 9999999999999995; timestamp 1700000000000000.",
        // IBAN
        "Pay to {{IBAN|DE89 3704 0044 0532 0130 00}} by Monday.",
        "UK {{IBAN|GB29 NWBK 6016 1331 9268 19}}, France {{IBAN|FR14 2004 1010 0505 0001 3M02 606}}.",
        "Compact {{IBAN|NL91ABNA0417164300}} and {{IBAN|ES9121000418450200051332}}.",
        "Italy {{IBAN|IT60 X054 2811 1010 0000 0123 456}}, Belgium {{IBAN|BE68 5390 0754 7034}}, Norway {{IBAN|NO93 8601 1117 947}}.",
        "Near misses: DE89 3704 0044 0532 0130 01 (check digits), GB00 NWBK 6016 1331 9268 19, XX12 3456 7890 1234 56.",
        "Also not IBANs: DE12 alone, ISO 9001 and AB12CD34 product codes.",
        // IP addresses
        "Server at {{IP|192.168.1.10}} and gateway {{IP|10.0.0.1}}.",
        "DNS {{IP|8.8.8.8}}; documentation range {{IP|203.0.113.42}}; mask {{IP|255.255.255.0}}.",
        "IPv6 {{IP|2001:db8:85a3::8a2e:370:7334}} and link-local {{IP|fe80::1ff:fe23:4567:890a}}.",
        "Full form {{IP|2001:0db8:0000:0000:0000:ff00:0042:8329}}, mapped {{IP|::ffff:192.0.2.128}}.",
        "Near misses: version 1.2.3.4, v1.2.3.4, release 2.0.1.3, 1.2.3, 1.2.3.4.5, 256.1.1.1, 10.0.19041.1.",
        "Also not addresses: std::vector, a::b, 12:30:45, MAC 00:1A:2B:3C:4D:5E, Foo::Bar::baz().",
        // SSN
        "SSN {{SSN|536-22-1234}} on file; spouse {{SSN|078-05-1121}}.",
        "Spaced {{SSN|219 09 9998}}; bare after the word: SSN: {{SSN|536221234}}.",
        "Near misses: 000-12-3456, 666-12-3456, 900-12-3456, 536-00-4567, 536-45-0000, 078-05-1120, 219-09-9999.",
        "Nine digits without context 536221234 are not taken; {{PHONE|415-555-2671}} is a phone, not an SSN.",
        // secrets
        "AWS key {{SECRET|AKIAIOSFODNN7EXAMPLE}} leaked.",
        "GitHub token {{SECRET|ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R}} in the log.",
        "Fine-grained {{SECRET|github_pat_11ABCDEFG0abcdefghijkl_MNOPqrstuvWXYZ0123456789abcdefghijklmnopqrstuvwxyzAB}} too.",
        "OpenAI {{SECRET|sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z}} and {{SECRET|sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2}}.",
        "Slack {{SECRET|xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx}} posted.",
        "JWT {{SECRET|eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c}} here.",
        "Key:\n{{SECRET|-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98fake0fake1fake2\nQWERTYuiop1234567890asdfghjkl\n-----END RSA PRIVATE KEY-----}}\nend.",
        "Google {{SECRET|AIzaSyD-1234567890abcdefghijklmnopqrstu}}; Stripe {{SECRET|sk_live_4eC39HqLyjWDarjtT1zdp7dc}}.",
        "Config: password = \"{{SECRET|S3cr3t!Pass}}\" and DB_PASSWORD={{SECRET|hunter2hunter2}}, apiKey: '{{SECRET|a1b2c3d4e5f6g7h8}}'.",
        "Header Authorization: {{SECRET|Bearer abcDEF123456ghiJKL789012mnoPQR}} sent.",
        "Near misses: sk-learn, task-runner-xyz, AKIA alone, ghp_short, password: ********, password = getpass().",
        "Also not secrets: -----BEGIN PUBLIC KEY----- blocks, secretary: Jane Smith, the secret is patience, api_key = os.environ['KEY'].",
        "And: eyJ alone, Bearer token, xoxb- and passwords must be long.",
    ];

    private static readonly Dictionary<string, PiiType> Types = new()
    {
        ["EMAIL"] = PiiType.Email,
        ["PHONE"] = PiiType.Phone,
        ["CREDIT_CARD"] = PiiType.CreditCard,
        ["IBAN"] = PiiType.Iban,
        ["IP"] = PiiType.IpAddress,
        ["SSN"] = PiiType.Ssn,
        ["SECRET"] = PiiType.Secret,
    };

    private static readonly IReadOnlySet<PiiType> All = new HashSet<PiiType>(Enum.GetValues<PiiType>());

    [Theory]
    [InlineData(PiiType.Email)]
    [InlineData(PiiType.Phone)]
    [InlineData(PiiType.CreditCard)]
    [InlineData(PiiType.Iban)]
    [InlineData(PiiType.IpAddress)]
    [InlineData(PiiType.Ssn)]
    [InlineData(PiiType.Secret)]
    public void Scan_LabelledCorpus_HasFullPrecisionAndRecall(PiiType type)
    {
        int tp = 0, fp = 0, fn = 0;
        var errors = new List<string>();
        var matches = new List<PiiMatch>();
        foreach (var line in Corpus)
        {
            var (text, expected) = Parse(line);
            PiiScanner.Scan(text, All, matches);
            var found = matches.Where(m => m.Type == type).ToHashSet();
            var wanted = expected.Where(m => m.Type == type).ToHashSet();
            foreach (var m in found)
            {
                if (wanted.Contains(m))
                {
                    tp++;
                }
                else
                {
                    fp++;
                    errors.Add($"false positive \"{text.Substring(m.Start, m.Length)}\" in: {text}");
                }
            }

            foreach (var m in wanted.Where(w => !found.Contains(w)))
            {
                fn++;
                errors.Add($"missed \"{text.Substring(m.Start, m.Length)}\" in: {text}");
            }
        }

        var precision = tp + fp == 0 ? 1 : (double)tp / (tp + fp);
        var recall = tp + fn == 0 ? 1 : (double)tp / (tp + fn);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{type}: tp={tp} fp={fp} fn={fn} precision={precision:0.000} recall={recall:0.000}"));
        tp.ShouldBeGreaterThan(3, "the corpus must hold positives for every type");
        errors.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("4111 1111 1111 1111", true)]
    [InlineData("4111 1111 1111 1112", false)]
    [InlineData("79927398713", true)] // the worked example of ISO/IEC 7812-1 (Wikipedia, "Luhn algorithm")
    [InlineData("79927398710", false)]
    public void Luhn_KnownNumbers_Checks(string number, bool valid) =>
        PiiScanner.Luhn(number.Where(char.IsDigit).Select(c => (byte)(c - '0')).ToArray()).ShouldBe(valid);

    [Theory]
    [InlineData("GB82WEST12345698765432", 1)] // the example of ISO 13616 / ECBS
    [InlineData("GB82WEST12345698765433", 28)] // one digit changed; remainder computed independently
    public void Mod97_KnownIbans_GivesRemainder(string iban, int remainder) => PiiScanner.Mod97(iban).ShouldBe(remainder);

    [Fact]
    public void Scan_DisabledType_IsNotReported()
    {
        var matches = new List<PiiMatch>();
        PiiScanner.Scan("mail john.doe@example.com from 10.0.0.1", new HashSet<PiiType> { PiiType.IpAddress }, matches);

        matches.ShouldHaveSingleItem().Type.ShouldBe(PiiType.IpAddress);
    }

    [Theory]
    [InlineData(PiiType.Email, "john.doe@example.com", "j***@e***.com")]
    [InlineData(PiiType.CreditCard, "4111 1111 1111 1111", "**** **** **** 1111")]
    [InlineData(PiiType.Iban, "DE89 3704 0044 0532 0130 00", "DE** **** **** **** **** 00")]
    [InlineData(PiiType.IpAddress, "192.168.1.10", "192.***.*.**")]
    [InlineData(PiiType.Ssn, "536-22-1234", "***-**-**34")]
    [InlineData(PiiType.Secret, "ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R", "ghp_**** (40 chars)")]
    [InlineData(PiiType.Secret, "S3cr3t!Pass", "**** (11 chars)")]
    public void Mask_Values_HideThePrivateParts(PiiType type, string value, string masked) =>
        PiiMasker.Mask(type, value).ShouldBe(masked);

    [Fact]
    public void Redact_Matches_ReplacesWithTypedPlaceholders()
    {
        const string text = "Mail john.doe@example.com or call +1 415 555 2671.";
        var matches = new List<PiiMatch>();
        PiiScanner.Scan(text, All, matches);

        PiiMasker.Redact(text, matches).ShouldBe("Mail [EMAIL] or call [PHONE].");
    }

    private static (string Text, List<PiiMatch> Expected) Parse(string line)
    {
        var sb = new StringBuilder();
        var expected = new List<PiiMatch>();
        var i = 0;
        while (i < line.Length)
        {
            var open = line.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0)
            {
                sb.Append(line, i, line.Length - i);
                break;
            }

            sb.Append(line, i, open - i);
            var bar = line.IndexOf('|', open);
            var close = line.IndexOf("}}", bar, StringComparison.Ordinal);
            var value = line[(bar + 1)..close];
            expected.Add(new PiiMatch(Types[line[(open + 2)..bar]], sb.Length, value.Length));
            sb.Append(value);
            i = close + 2;
        }

        return (sb.ToString(), expected);
    }
}
