using System.Text;
using Plumbline.Core.Preparation;

namespace Plumbline.Core.Tests.Preparation;

public class TextNormalizerTests
{
    [Theory]
    [InlineData("line one\r\nline two\rline three", "line one\nline two\nline three")]
    [InlineData("trailing   \nspaces\t\nhere", "trailing\nspaces\nhere")]
    [InlineData("  \n padded text \n\n ", "padded text")]
    [InlineData("no\u00A0break\u2003em\u3000ideographic", "no break em ideographic")]
    [InlineData("para\u2028graph\u2029end\u0085nel", "para\ngraph\nend\nnel")]
    public void Normalize_Whitespace_IsMadeConsistent(string input, string expected)
    {
        TextNormalizer.Normalize(input, out var changes, out _).ShouldBe(expected);
        changes.ShouldBe(TextChanges.Whitespace);
    }

    [Theory]
    [InlineData("bell\u0007 and null\u0000 chars", "bell and null chars")]
    [InlineData("\uFEFFbom at start", "bom at start")]
    [InlineData("zero\u200Bwidth\u2060joiner", "zerowidthjoiner")]
    [InlineData("c1\u0090control\u009B", "c1control")]
    public void Normalize_ControlCharacters_AreRemoved(string input, string expected)
    {
        TextNormalizer.Normalize(input, out var changes, out _).ShouldBe(expected);
        changes.ShouldBe(TextChanges.ControlCharacters);
    }

    [Fact]
    public void Normalize_IndentedCode_KeepsInnerSpacesAndTabs()
    {
        const string code = "def f(x):\n    if x:\n\treturn  x  + 1";

        TextNormalizer.Normalize(code, out var changes, out _).ShouldBeSameAs(code);
        changes.ShouldBe(TextChanges.None);
    }

    [Fact]
    public void Normalize_ZeroWidthBetweenLetterAndAccent_ComposesAfterRemoval()
    {
        TextNormalizer.Normalize("e\u200B\u0301", out var changes, out _).ShouldBe("\u00E9");
        changes.ShouldBe(TextChanges.ControlCharacters | TextChanges.Nfc);
    }

    [Fact]
    public void Normalize_LatinOneMojibakeWithC1Controls_RepairsBeforeRemovingControls()
    {
        // "It’s" read as Latin-1 contains U+0080 and U+0099: removing them first would lose the apostrophe.
        var garbled = Encoding.Latin1.GetString(Encoding.UTF8.GetBytes("It’s fine"));

        TextNormalizer.Normalize(garbled, out var changes, out var repairs).ShouldBe("It’s fine");
        changes.ShouldBe(TextChanges.Mojibake);
        repairs.ShouldBe(1);
    }

    [Fact]
    public void Normalize_CleanText_ReturnsSameInstance()
    {
        const string text = "Clean text, déjà vu, 日本語.\nSecond line.";

        TextNormalizer.Normalize(text, out var changes, out _).ShouldBeSameAs(text);
        changes.ShouldBe(TextChanges.None);
    }
}
