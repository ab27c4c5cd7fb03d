using System.Text;
using Plumbline.Core.Preparation;

namespace Plumbline.Core.Tests.Preparation;

public class MojibakeTests
{
    private static readonly Encoding Windows1252;

#pragma warning disable CA1810 // registering the code-page provider must precede GetEncoding
    static MojibakeTests()
#pragma warning restore CA1810
    {
        // The runtime's own code pages are the reference for how text gets garbled, independent of the repair code.
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        Windows1252 = Encoding.GetEncoding(1252);
    }

    public static TheoryData<string> Originals =>
    [
        "Café crème, naïve façade, déjà vu.",
        "Größe: 5 m², Straße „Übergang“, Fußgänger.",
        "¿Qué tal? El niño comió piñata en São Paulo.",
        "It’s a “quoted” text — with an en dash – and an ellipsis…",
        "Price: 50 € or £42, ™ and © 2024.",
        "Ελληνικά και Русский текст.",
        "Emoji 😀 and 🎉 survive; so do 日本語 and 한국어.",
        "Zürich, Kraków, Øresund, Ærø, Þingvellir.",
    ];

    [Theory]
    [MemberData(nameof(Originals))]
    public void Repair_Utf8ReadAsWindows1252Once_RestoresOriginal(string original)
    {
        var garbled = Windows1252.GetString(Encoding.UTF8.GetBytes(original));
        garbled.ShouldNotBe(original);

        Mojibake.Repair(garbled, out var repairs).ShouldBe(original);
        repairs.ShouldBeGreaterThan(0);
    }

    [Theory]
    [MemberData(nameof(Originals))]
    public void Repair_Utf8ReadAsLatin1Once_RestoresOriginal(string original)
    {
        var garbled = Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(original));

        Mojibake.Repair(garbled, out _).ShouldBe(original);
    }

    [Theory]
    [MemberData(nameof(Originals))]
    public void Repair_GarbledTwiceThroughWindows1252_RestoresOriginal(string original)
    {
        var once = Windows1252.GetString(Encoding.UTF8.GetBytes(original));
        var twice = Windows1252.GetString(Encoding.UTF8.GetBytes(once));

        Mojibake.Repair(twice, out _).ShouldBe(original);
    }

    [Theory]
    [MemberData(nameof(Originals))]
    public void Repair_GarbledTwiceThroughLatin1ThenWindows1252_RestoresOriginal(string original)
    {
        var once = Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(original));
        var twice = Windows1252.GetString(Encoding.UTF8.GetBytes(once));

        Mojibake.Repair(twice, out _).ShouldBe(original);
    }

    [Fact]
    public void Repair_MixedCorrectAndGarbledParts_RepairsOnlyTheGarbledPart()
    {
        var text = "Correct: café. Garbled: " + Windows1252.GetString(Encoding.UTF8.GetBytes("café"));

        Mojibake.Repair(text, out var repairs).ShouldBe("Correct: café. Garbled: café");
        repairs.ShouldBe(1);
    }

    [Theory]
    [InlineData("Gruß“ und Grüße")] // ß followed by a closing quote: bytes DF 93 would decode to an N'Ko letter
    [InlineData("SÃO PAULO É BONITA")] // Portuguese capitals
    [InlineData("CAFÉ” — menu")] // É then a curly quote
    [InlineData("Ça va? À bientôt, Ötzi, Ñandú.")]
    [InlineData("plain ASCII only")]
    public void Repair_GenuineText_IsUnchanged(string text)
    {
        Mojibake.Repair(text, out var repairs).ShouldBeSameAs(text);
        repairs.ShouldBe(0);
    }
}
