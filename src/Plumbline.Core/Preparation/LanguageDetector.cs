namespace Plumbline.Core.Preparation;

/// <summary>The outcome of <see cref="LanguageDetector.Detect"/>.</summary>
/// <param name="Language">Best language code, or null when the text is too short to say.</param>
/// <param name="Trigrams">How many character trigrams were scored.</param>
/// <param name="Margin">Mean log-likelihood lead of the best language over the runner-up, per trigram.</param>
public readonly record struct LanguageGuess(string? Language, int Trigrams, double Margin);

/// <summary>
/// A light language identifier: naive Bayes over character trigrams, with small profiles derived at start-up from
/// sample paragraphs written for this purpose (about 1 KB per language).
/// </summary>
/// <remarks>
/// Trigrams include word edges (" th", "he "), which carry most of what tells close languages apart (es/pt, de/nl).
/// Only the first <see cref="MaxTrigrams"/> trigrams of a text are scored: a few hundred decide reliably, and the
/// cost stays flat for long records.
/// </remarks>
public static class LanguageDetector
{
    /// <summary>Trigrams scored per text at most.</summary>
    public const int MaxTrigrams = 256;

    /// <summary>Below this many trigrams no language is named.</summary>
    public const int MinTrigrams = 12;

    private static readonly string[] Codes = ["en", "de", "fr", "es", "it", "pt", "nl"];

    // Why these texts: everyday prose on varied subjects, so that function words and common endings dominate, as
    // they do in the data. Written for Plumbline; not copied from any corpus.
    private static readonly string[] Samples =
    [
        // en
        "The weather was cold this morning, so we stayed at home and read the newspaper until noon. After lunch my " +
        "brother called to ask whether we could help him move his furniture to the new apartment on the other side " +
        "of the river. It is a small place with a kitchen, a bedroom and a view of the old bridge. We carried boxes " +
        "all afternoon and then we ordered pizza for everyone. The company where she works has changed its rules for " +
        "working from home, and many people are not happy about it. They say that the train is too expensive and that " +
        "the office is noisy. Children should learn how to cook, how to swim and how to manage their own money. If you " +
        "want to understand a new idea, try to explain it to someone else in simple words. This is the best way to find " +
        "out what you do not know yet. Our neighbours have a garden with apples, roses and a very friendly dog which " +
        "barks whenever the postman arrives. I think that we should travel more, because every journey teaches us " +
        "something about the world and about ourselves. What would you do with an extra hour each day?",

        // de
        "Das Wetter war heute Morgen kalt, deshalb sind wir zu Hause geblieben und haben bis Mittag die Zeitung " +
        "gelesen. Nach dem Essen rief mein Bruder an und fragte, ob wir ihm beim Umzug in die neue Wohnung auf der " +
        "anderen Seite des Flusses helfen könnten. Es ist eine kleine Wohnung mit einer Küche, einem Schlafzimmer und " +
        "einem Blick auf die alte Brücke. Wir haben den ganzen Nachmittag Kisten getragen und danach für alle Pizza " +
        "bestellt. Die Firma, bei der sie arbeitet, hat ihre Regeln für die Arbeit von zu Hause geändert, und viele " +
        "Leute sind darüber nicht glücklich. Sie sagen, dass der Zug zu teuer ist und dass das Büro zu laut ist. " +
        "Kinder sollten lernen, wie man kocht, wie man schwimmt und wie man mit dem eigenen Geld umgeht. Wenn man eine " +
        "neue Idee verstehen will, sollte man versuchen, sie jemand anderem mit einfachen Worten zu erklären. Unsere " +
        "Nachbarn haben einen Garten mit Äpfeln, Rosen und einem sehr freundlichen Hund, der immer bellt, wenn der " +
        "Briefträger kommt. Ich glaube, wir sollten mehr reisen, weil uns jede Reise etwas über die Welt und über uns " +
        "selbst lehrt. Was würdest du mit einer zusätzlichen Stunde jeden Tag machen?",

        // fr
        "Il faisait froid ce matin, alors nous sommes restés à la maison et nous avons lu le journal jusqu'à midi. " +
        "Après le déjeuner, mon frère a appelé pour demander si nous pouvions l'aider à déménager ses meubles dans le " +
        "nouvel appartement de l'autre côté de la rivière. C'est un petit logement avec une cuisine, une chambre et " +
        "une vue sur le vieux pont. Nous avons porté des cartons tout l'après-midi, puis nous avons commandé des " +
        "pizzas pour tout le monde. L'entreprise où elle travaille a changé ses règles sur le travail à domicile, et " +
        "beaucoup de gens ne sont pas contents. Ils disent que le train coûte trop cher et que le bureau est trop " +
        "bruyant. Les enfants devraient apprendre à cuisiner, à nager et à gérer leur propre argent. Si vous voulez " +
        "comprendre une nouvelle idée, essayez de l'expliquer à quelqu'un d'autre avec des mots simples. C'est la " +
        "meilleure façon de découvrir ce que vous ne savez pas encore. Nos voisins ont un jardin avec des pommes, des " +
        "roses et un chien très gentil qui aboie chaque fois que le facteur arrive. Je pense que nous devrions voyager " +
        "davantage, parce que chaque voyage nous apprend quelque chose sur le monde et sur nous-mêmes.",

        // es
        "Esta mañana hacía frío, así que nos quedamos en casa y leímos el periódico hasta el mediodía. Después de " +
        "comer, mi hermano llamó para preguntar si podíamos ayudarle a llevar sus muebles al nuevo piso que está al " +
        "otro lado del río. Es un lugar pequeño con una cocina, un dormitorio y una vista del puente viejo. Llevamos " +
        "cajas toda la tarde y luego pedimos pizza para todos. La empresa donde ella trabaja ha cambiado sus normas " +
        "sobre el trabajo desde casa, y mucha gente no está contenta. Dicen que el tren es demasiado caro y que la " +
        "oficina es muy ruidosa. Los niños deberían aprender a cocinar, a nadar y a manejar su propio dinero. Si " +
        "quieres entender una idea nueva, intenta explicársela a otra persona con palabras sencillas. Es la mejor " +
        "manera de descubrir lo que todavía no sabes. Nuestros vecinos tienen un jardín con manzanas, rosas y un perro " +
        "muy simpático que ladra cada vez que llega el cartero. Creo que deberíamos viajar más, porque cada viaje nos " +
        "enseña algo sobre el mundo y sobre nosotros mismos. ¿Qué harías con una hora más cada día? Año tras año, " +
        "los españoles pequeños también sueñan con señales de niños.",

        // it
        "Stamattina faceva freddo, quindi siamo rimasti a casa e abbiamo letto il giornale fino a mezzogiorno. Dopo " +
        "pranzo mio fratello ha telefonato per chiedere se potevamo aiutarlo a portare i suoi mobili nel nuovo " +
        "appartamento dall'altra parte del fiume. È un posto piccolo con una cucina, una camera da letto e una vista " +
        "sul vecchio ponte. Abbiamo portato scatole per tutto il pomeriggio e poi abbiamo ordinato la pizza per tutti. " +
        "L'azienda dove lavora ha cambiato le regole per il lavoro da casa, e molte persone non sono contente. Dicono " +
        "che il treno costa troppo e che l'ufficio è troppo rumoroso. I bambini dovrebbero imparare a cucinare, a " +
        "nuotare e a gestire i propri soldi. Se vuoi capire una nuova idea, prova a spiegarla a qualcun altro con " +
        "parole semplici. È il modo migliore per scoprire quello che ancora non sai. I nostri vicini hanno un giardino " +
        "con mele, rose e un cane molto simpatico che abbaia ogni volta che arriva il postino. Penso che dovremmo " +
        "viaggiare di più, perché ogni viaggio ci insegna qualcosa sul mondo e su noi stessi. Che cosa faresti con " +
        "un'ora in più ogni giorno? Gli studenti della città hanno questo gruppo di ragazzi e figli.",

        // pt
        "Hoje de manhã estava frio, por isso ficámos em casa e lemos o jornal até ao meio-dia. Depois do almoço, o " +
        "meu irmão ligou para perguntar se podíamos ajudá-lo a levar os móveis para o novo apartamento do outro lado " +
        "do rio. É um lugar pequeno com uma cozinha, um quarto e uma vista para a ponte velha. Carregámos caixas a " +
        "tarde toda e depois pedimos pizza para todos. A empresa onde ela trabalha mudou as regras do trabalho em " +
        "casa, e muitas pessoas não estão contentes. Dizem que o comboio é caro demais e que o escritório é muito " +
        "barulhento. As crianças deveriam aprender a cozinhar, a nadar e a cuidar do seu próprio dinheiro. Se você " +
        "quer entender uma ideia nova, tente explicá-la a outra pessoa com palavras simples. É a melhor maneira de " +
        "descobrir o que ainda não sabe. Os nossos vizinhos têm um jardim com maçãs, rosas e um cão muito simpático " +
        "que ladra sempre que o carteiro chega. Acho que devíamos viajar mais, porque cada viagem nos ensina alguma " +
        "coisa sobre o mundo e sobre nós mesmos. O que faria com uma hora a mais por dia? As informações são " +
        "importantes, não há dúvida, e as decisões também.",

        // nl
        "Het was vanochtend koud, dus we zijn thuis gebleven en hebben tot de middag de krant gelezen. Na de lunch " +
        "belde mijn broer om te vragen of we hem konden helpen met het verhuizen van zijn meubels naar het nieuwe " +
        "appartement aan de andere kant van de rivier. Het is een kleine woning met een keuken, een slaapkamer en een " +
        "uitzicht op de oude brug. We hebben de hele middag dozen gedragen en daarna voor iedereen pizza besteld. Het " +
        "bedrijf waar zij werkt heeft de regels voor thuiswerken veranderd, en veel mensen zijn daar niet blij mee. Ze " +
        "zeggen dat de trein te duur is en dat het kantoor te lawaaierig is. Kinderen zouden moeten leren koken, " +
        "zwemmen en met hun eigen geld omgaan. Als je een nieuw idee wilt begrijpen, probeer het dan in eenvoudige " +
        "woorden aan iemand anders uit te leggen. Dat is de beste manier om te ontdekken wat je nog niet weet. Onze " +
        "buren hebben een tuin met appels, rozen en een heel vriendelijke hond die altijd blaft als de postbode komt. " +
        "Ik denk dat we meer zouden moeten reizen, omdat elke reis ons iets leert over de wereld en over onszelf. Wat " +
        "zou jij doen met een extra uur per dag? Het lijkt mij wijs om dit gewoon zelf te proberen.",
    ];

    // Eight lanes per row (seven languages and a spare) so that one vector add scores a trigram for all of them.
    private const int Lanes = 8;
    private static readonly Dictionary<ulong, int> Rows = [];
    private static readonly float[] LogProbabilities;
    private static readonly float[] Unseen = new float[Lanes];
    private static readonly ulong[] TableKeys;
    private static readonly int[] TableRows;

#pragma warning disable CA1810 // profiles are derived from the samples in one pass; initialisers cannot express it
    static LanguageDetector()
#pragma warning restore CA1810
    {
        var counts = new List<int[]>();
        var totals = new int[Codes.Length];
        for (var lang = 0; lang < Codes.Length; lang++)
        {
            var grams = new List<ulong>();
            Trigrams(Samples[lang], grams, int.MaxValue);
            foreach (var g in grams)
            {
                if (!Rows.TryGetValue(g, out var row))
                {
                    row = counts.Count;
                    Rows[g] = row;
                    counts.Add(new int[Codes.Length]);
                }

                counts[row][lang]++;
                totals[lang]++;
            }
        }

        // Add-one smoothing over the joint trigram vocabulary.
        var vocabulary = counts.Count + 1;
        LogProbabilities = new float[counts.Count * Lanes];
        for (var lang = 0; lang < Codes.Length; lang++)
        {
            var denominator = Math.Log(totals[lang] + vocabulary);
            Unseen[lang] = (float)-denominator;
            for (var row = 0; row < counts.Count; row++)
            {
                LogProbabilities[row * Lanes + lang] = (float)(Math.Log(counts[row][lang] + 1) - denominator);
            }
        }

        // An open-addressing table (key 0 is never a trigram) is several times faster than the dictionary here.
        var capacity = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(Rows.Count * 4));
        TableKeys = new ulong[capacity];
        TableRows = new int[capacity];
        foreach (var (key, row) in Rows)
        {
            var slot = Slot(key, capacity - 1);
            while (TableKeys[slot] != 0)
            {
                slot = (slot + 1) & (capacity - 1);
            }

            TableKeys[slot] = key;
            TableRows[slot] = row;
        }
    }

    /// <summary>The language codes with a built-in profile.</summary>
    public static IReadOnlyList<string> SupportedLanguages => Codes;

    /// <summary>True when <paramref name="code"/> (ISO 639-1, any case) has a profile.</summary>
    public static bool IsSupported(string code) => Array.FindIndex(Codes, c => c.Equals(code, StringComparison.OrdinalIgnoreCase)) >= 0;

    /// <summary>Guesses the language of <paramref name="texts"/>, read in order.</summary>
    /// <param name="texts">The texts.</param>
    /// <param name="scores">Receives the mean log-likelihood per trigram of each supported language, in <see cref="SupportedLanguages"/> order.</param>
    public static LanguageGuess Detect(IEnumerable<string> texts, Span<double> scores)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (scores.Length != Codes.Length)
        {
            throw new ArgumentException($"Need {Codes.Length} score slots.", nameof(scores));
        }

        scores.Clear();
        Span<ulong> buffer = stackalloc ulong[MaxTrigrams];
        var n = 0;
        foreach (var text in texts)
        {
            if (n >= MaxTrigrams)
            {
                break;
            }

            n += Trigrams(text, buffer[n..]);
        }

        var mask = TableKeys.Length - 1;
        var acc = System.Runtime.Intrinsics.Vector256<float>.Zero;
        var unseen = System.Runtime.Intrinsics.Vector256.Create(Unseen);
        for (var i = 0; i < n; i++)
        {
            var key = buffer[i];
            var slot = Slot(key, mask);
            while (TableKeys[slot] != key && TableKeys[slot] != 0)
            {
                slot = (slot + 1) & mask;
            }

            acc += TableKeys[slot] == key
                ? System.Runtime.Intrinsics.Vector256.Create(LogProbabilities, TableRows[slot] * Lanes)
                : unseen;
        }

        for (var lang = 0; lang < Codes.Length; lang++)
        {
            scores[lang] = acc[lang];
        }

        if (n < MinTrigrams)
        {
            return new LanguageGuess(null, n, 0);
        }

        var best = 0;
        for (var lang = 1; lang < Codes.Length; lang++)
        {
            if (scores[lang] > scores[best])
            {
                best = lang;
            }
        }

        var second = double.NegativeInfinity;
        for (var lang = 0; lang < Codes.Length; lang++)
        {
            scores[lang] /= n;
            if (lang != best && scores[lang] > second)
            {
                second = scores[lang];
            }
        }

        return new LanguageGuess(Codes[best], n, scores[best] - second);
    }

    private static int Slot(ulong key, int mask) => (int)((key * 0x9E3779B97F4A7C15) >> 40) & mask;

    /// <summary>Index of a supported code in <see cref="SupportedLanguages"/>, or -1.</summary>
    public static int IndexOf(string code) => Array.FindIndex(Codes, c => c.Equals(code, StringComparison.OrdinalIgnoreCase));

    // Lower-cased letters; every other run of characters is one space, so words are padded on both sides.
    private static int Trigrams(string text, Span<ulong> into)
    {
        var n = 0;
        ulong c1 = ' ', c2 = ' ';
        var lastSpace = true;
        foreach (var ch in text)
        {
            ulong c;
            if (char.IsLetter(ch))
            {
                c = ch < 128 ? (ulong)(ch | 0x20) : char.ToLowerInvariant(ch);
                lastSpace = false;
            }
            else if (lastSpace)
            {
                continue;
            }
            else
            {
                c = ' ';
                lastSpace = true;
            }

            if (!(c1 == ' ' && c2 == ' '))
            {
                if (n == into.Length)
                {
                    return n;
                }

                into[n++] = (c1 << 32) | (c2 << 16) | c;
            }

            (c1, c2) = (c2, c);
        }

        if (!lastSpace && n < into.Length)
        {
            into[n++] = (c1 << 32) | (c2 << 16) | ' ';
        }

        return n;
    }

    private static void Trigrams(string text, List<ulong> into, int max)
    {
        var buffer = new ulong[Math.Min(max, text.Length + 2)];
        var n = Trigrams(text, buffer);
        for (var i = 0; i < n; i++)
        {
            into.Add(buffer[i]);
        }
    }
}
