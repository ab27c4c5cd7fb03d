using Plumbline.Core.Quality;

namespace Plumbline.Core.Tests.Quality;

public class DefaultMetricTests
{
    [Theory]
    [InlineData("label", AgreementMetric.KrippendorffNominal)]
    [InlineData("preference", AgreementMetric.KrippendorffNominal)]
    [InlineData("span", AgreementMetric.SpanPositionAlpha)]
    [InlineData("rating", AgreementMetric.KrippendorffOrdinal)]
    [InlineData("multi_label", AgreementMetric.MeanPerLabelNominalAlpha)]
    [InlineData("ranking", AgreementMetric.MeanKendallW)]
    [InlineData("text", AgreementMetric.MeanEditSimilarity)]
    public void For_KnownQuestionType_ReturnsDocumentedMetric(string type, AgreementMetric expected) =>
        DefaultMetric.For(type).ShouldBe(expected);

    [Fact]
    public void For_UnknownQuestionType_Throws() =>
        Should.Throw<ArgumentException>(() => DefaultMetric.For("Label"));
}
