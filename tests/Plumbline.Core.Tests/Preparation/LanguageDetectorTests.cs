using Plumbline.Core.Preparation;

namespace Plumbline.Core.Tests.Preparation;

public class LanguageDetectorTests
{
    // Held-out sentences, not taken from the built-in samples.
    [Theory]
    [InlineData("en", "Please send me the report by tomorrow evening, because the meeting with our clients starts early.")]
    [InlineData("en", "The model answered the question correctly, but the explanation was far too long for most readers.")]
    [InlineData("en", "Write a short poem about the sea and the people who wait for the fishing boats to return.")]
    [InlineData("de", "Bitte schicken Sie mir den Bericht bis morgen Abend, weil das Treffen mit unseren Kunden früh beginnt.")]
    [InlineData("de", "Das Modell hat die Frage richtig beantwortet, aber die Erklärung war für die meisten Leser viel zu lang.")]
    [InlineData("de", "Schreibe ein kurzes Gedicht über das Meer und die Menschen, die auf die Rückkehr der Fischerboote warten.")]
    [InlineData("fr", "Merci de m'envoyer le rapport avant demain soir, car la réunion avec nos clients commence tôt.")]
    [InlineData("fr", "Le modèle a bien répondu à la question, mais l'explication était beaucoup trop longue pour la plupart des lecteurs.")]
    [InlineData("fr", "Écris un court poème sur la mer et les gens qui attendent le retour des bateaux de pêche.")]
    [InlineData("es", "Por favor, envíame el informe antes de mañana por la noche, porque la reunión con nuestros clientes empieza temprano.")]
    [InlineData("es", "El modelo respondió bien a la pregunta, pero la explicación era demasiado larga para la mayoría de los lectores.")]
    [InlineData("es", "Escribe un poema corto sobre el mar y la gente que espera el regreso de los barcos de pesca.")]
    [InlineData("it", "Per favore mandami il rapporto entro domani sera, perché la riunione con i nostri clienti inizia presto.")]
    [InlineData("it", "Il modello ha risposto correttamente alla domanda, ma la spiegazione era troppo lunga per la maggior parte dei lettori.")]
    [InlineData("it", "Scrivi una breve poesia sul mare e sulle persone che aspettano il ritorno delle barche da pesca.")]
    [InlineData("pt", "Por favor, envie-me o relatório até amanhã à noite, porque a reunião com os nossos clientes começa cedo.")]
    [InlineData("pt", "O modelo respondeu corretamente à pergunta, mas a explicação era longa demais para a maioria dos leitores.")]
    [InlineData("pt", "Escreva um poema curto sobre o mar e as pessoas que esperam o regresso dos barcos de pesca.")]
    [InlineData("nl", "Stuur me alsjeblieft het verslag voor morgenavond, want de vergadering met onze klanten begint vroeg.")]
    [InlineData("nl", "Het model beantwoordde de vraag correct, maar de uitleg was veel te lang voor de meeste lezers.")]
    [InlineData("nl", "Schrijf een kort gedicht over de zee en de mensen die wachten op de terugkeer van de vissersboten.")]
    public void Detect_HeldOutSentence_FindsItsLanguage(string expected, string text)
    {
        var scores = new double[LanguageDetector.SupportedLanguages.Count];

        var guess = LanguageDetector.Detect([text], scores);

        guess.Language.ShouldBe(expected);
        guess.Margin.ShouldBeGreaterThan(0);
    }

    [Theory]
    [InlineData("ok")]
    [InlineData("42 + 17 = 59")]
    [InlineData("")]
    public void Detect_TooLittleText_NamesNoLanguage(string text)
    {
        var scores = new double[LanguageDetector.SupportedLanguages.Count];

        LanguageDetector.Detect([text], scores).Language.ShouldBeNull();
    }

    [Fact]
    public void Preparer_DeclaredLanguage_DropsRecordsInAnotherLanguage()
    {
        var preparer = new Preparer(new PreparationOptions { DeclaredLanguage = "en" });

        preparer.Prepare("en", [("prompt", "Summarise the following article in three sentences for a busy reader.")]).IsKept.ShouldBeTrue();
        var german = preparer.Prepare("de", [("prompt", "Fasse den folgenden Artikel in drei Sätzen für einen eiligen Leser zusammen.")]);
        var shortText = preparer.Prepare("short", [("prompt", "Danke!")]);

        german.Verdict.ShouldBe(Verdict.Drop);
        german.Rule.ShouldBe(PreparationRules.Language);
        german.Reason!.ShouldContain("'de'");
        shortText.IsKept.ShouldBeTrue();
    }

    [Fact]
    public void Options_UnsupportedLanguage_IsRejected() =>
        Should.Throw<ArgumentException>(() => new Preparer(new PreparationOptions { DeclaredLanguage = "xx" }))
            .Message.ShouldContain("supported: en, de, fr, es, it, pt, nl");
}
