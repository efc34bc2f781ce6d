using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace AuroraNexus.Grains.Conversation;

/// <summary>A retrieved chunk as the composer quotes it.</summary>
public sealed record Passage(long ChunkId, Guid DocumentId, string FileName, int ChunkIndex, double Score, string Text);

/// <summary>
/// An answer built without an LLM. <see cref="Text"/> ends with the canonical SUIVI block when
/// <see cref="Sections"/> is not empty; with no usable passage (or fewer than four sentences) there is no block.
/// </summary>
public sealed record ExtractiveAnswer(string Text, IReadOnlyList<OutlineSection> Sections, IReadOnlyList<long> CitedChunkIds)
{
    public bool HasOutline => Sections.Count > 0;
}

public sealed record ExtractiveOptions
{
    public static ExtractiveOptions Default { get; } = new();

    /// <summary>Upper bound on sections, clamped to 4–8.</summary>
    public int MaxSections { get; init; } = 6;

    /// <summary>Sentences quoted per section, clamped to 1–3.</summary>
    public int SentencesPerSection { get; init; } = 2;

    /// <summary>Titles derived from a sentence are cut at this length (the SUIVI limit still applies).</summary>
    public int MaxTitleLength { get; init; } = 60;
}

/// <summary>
/// Answers from the retrieved passages alone when no LLM is configured: the best sentences, quoted as they are,
/// organised into 4–8 sourced sections and closed by a SUIVI block so follow-ups work the same way.
/// </summary>
public static class ExtractiveComposer
{
    private const int DetailSentencesPerSection = 3;

    public static ExtractiveAnswer Compose(string question, IReadOnlyList<Passage> passages, ExtractiveOptions? options = null)
    {
        var settings = options ?? ExtractiveOptions.Default;
        var maxSections = Math.Clamp(settings.MaxSections, SuiviBlock.MinSections, SuiviBlock.MaxSections);
        var perSection = Math.Clamp(settings.SentencesPerSection, 1, DetailSentencesPerSection);
        var language = Language.Of(question);

        var analysed = Analyse(passages, TextFolding.ContentStems(question ?? string.Empty));
        if (analysed.Count == 0)
        {
            return NothingFound(language);
        }

        var ordered = DistinctDocumentsFirst(OnTopic(analysed));
        var target = Math.Min(maxSections, Math.Max(SuiviBlock.MinSections, ordered.Count));
        var groups = Plan(ordered, target, perSection);
        return Write(language.Intro, groups, ordered, settings.MaxTitleLength, language);
    }

    /// <summary>
    /// A more detailed answer on one section of the previous outline: more sentences from the passages that
    /// grounded it (the others only fill in when those are too short), still 4–8 sections and a SUIVI block.
    /// </summary>
    public static ExtractiveAnswer ComposeDetail(OutlineSection section, IReadOnlyList<Passage> passages, string question)
    {
        ArgumentNullException.ThrowIfNull(section);
        var language = Language.Of(question);
        var stems = TextFolding.ContentStems((question ?? string.Empty) + " " + section.Title);
        var analysed = Analyse(passages, stems);
        if (analysed.Count == 0)
        {
            return NothingFound(language);
        }

        var grounding = section.ChunkIds.IsDefault ? [] : section.ChunkIds.ToHashSet();
        var focus = analysed.Where(a => grounding.Contains(a.Passage.ChunkId)).OrderByDescending(a => a.Relevance).ToList();
        var others = analysed.Where(a => !grounding.Contains(a.Passage.ChunkId)).OrderByDescending(a => a.Relevance).ToList();
        if (focus.Count == 0)
        {
            focus = others;
            others = [];
        }

        var chosen = new List<Analysed>(focus);
        foreach (var extra in others)
        {
            if (chosen.Sum(a => a.Sentences.Count) >= SuiviBlock.MinSections)
            {
                break;
            }

            chosen.Add(extra);
        }

        var total = chosen.Sum(a => a.Sentences.Count);
        var target = Math.Clamp((total + 1) / 2, SuiviBlock.MinSections, SuiviBlock.MaxSections);
        var groups = Plan(chosen, target, DetailSentencesPerSection);
        var intro = language.DetailIntro(Letter(section.Id), SuiviBlock.CleanTitle(section.Title));
        return Write(intro, groups, chosen, ExtractiveOptions.Default.MaxTitleLength, language);
    }

    private static ExtractiveAnswer NothingFound(Language language) => new(language.NothingFound, [], []);

    private sealed record Analysed(Passage Passage, string? Heading, IReadOnlyList<ScoredSentence> Sentences, double Relevance);

    private readonly record struct ScoredSentence(string Text, int Position, double Score);

    private sealed record Group(Analysed Source, IReadOnlyList<ScoredSentence> Sentences, bool First);

    private static List<Analysed> Analyse(IReadOnlyList<Passage>? passages, HashSet<string> queryStems)
    {
        var result = new List<Analysed>();
        if (passages is null || passages.Count == 0)
        {
            return result;
        }

        var maxScore = passages.Max(p => p is not null && double.IsFinite(p.Score) ? p.Score : 0);
        var seen = new HashSet<long>();
        for (var index = 0; index < passages.Count; index++)
        {
            var passage = passages[index];
            if (passage is null || string.IsNullOrWhiteSpace(passage.Text) || !seen.Add(passage.ChunkId))
            {
                continue;
            }

            // Scores from different rankers are not comparable across calls; the retrieval order is the fallback.
            var passageWeight = maxScore > 0
                ? (double.IsFinite(passage.Score) ? Math.Max(0, passage.Score) / maxScore : 0)
                : 1.0 - (double)index / passages.Count;
            var split = SentenceSplitter.Split(passage.Text);
            var sentences = new List<ScoredSentence>();
            for (var i = 0; i < split.Sentences.Count; i++)
            {
                var sentence = split.Sentences[i];
                if (!IsQuotable(sentence))
                {
                    continue;
                }

                sentences.Add(new ScoredSentence(sentence, i, ScoreSentence(sentence, i, queryStems, passageWeight)));
            }

            if (sentences.Count == 0)
            {
                continue;
            }

            var headingOverlap = split.Heading is null ? 0 : Overlap(split.Heading, queryStems);
            var relevance = 0.5 * passageWeight + sentences.Max(s => s.Score) + 0.3 * headingOverlap;
            result.Add(new Analysed(passage, split.Heading, sentences, relevance));
        }

        return result;
    }

    private static bool IsQuotable(string sentence)
    {
        if (sentence.Length < 20 || !sentence.Any(char.IsLetter))
        {
            return false;
        }

        var words = 0;
        foreach (var part in sentence.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.Any(char.IsLetter))
            {
                words++;
            }
        }

        return words >= 4;
    }

    private static double ScoreSentence(string sentence, int position, HashSet<string> queryStems, double passageWeight)
    {
        var score = Overlap(sentence, queryStems) + 0.15 * passageWeight;
        if (position == 0)
        {
            score += 0.05;
        }

        if (sentence.Length < 40)
        {
            score -= 0.1;
        }

        return score;
    }

    private static double Overlap(string text, HashSet<string> queryStems)
    {
        if (queryStems.Count == 0)
        {
            return 0;
        }

        var stems = TextFolding.ContentStems(text);
        var shared = 0;
        foreach (var stem in queryStems)
        {
            if (stems.Contains(stem))
            {
                shared++;
            }
        }

        return (double)shared / queryStems.Count;
    }

    /// <summary>
    /// The passages at least half as relevant as the best one, when they hold enough sentences for an outline: a
    /// question only one document answers is answered from that document, instead of one section per retrieved document
    /// with the weakest quoting what merely shares a word with the question.
    /// </summary>
    private static List<Analysed> OnTopic(List<Analysed> analysed)
    {
        var best = analysed.Max(a => a.Relevance);
        var strong = analysed.Where(a => a.Relevance >= OnTopicShare * best).ToList();
        return strong.Sum(a => a.Sentences.Count) >= SuiviBlock.MinSections ? strong : analysed;
    }

    private const double OnTopicShare = 0.5;

    /// <summary>The best passage of each document first, then the remaining passages, each by relevance.</summary>
    private static List<Analysed> DistinctDocumentsFirst(List<Analysed> analysed)
    {
        var byRelevance = analysed.OrderByDescending(a => a.Relevance).ToList();
        var documents = new HashSet<Guid>();
        var first = new List<Analysed>();
        var rest = new List<Analysed>();
        foreach (var item in byRelevance)
        {
            (documents.Add(item.Passage.DocumentId) ? first : rest).Add(item);
        }

        first.AddRange(rest);
        return first;
    }

    /// <summary>
    /// One section per passage when there are enough passages; otherwise the richest passages are split into
    /// several sections so the outline still has four entries whenever four sentences exist. Returns an empty
    /// list when there are fewer than four quotable sentences.
    /// </summary>
    private static List<Group> Plan(List<Analysed> ordered, int target, int perSection)
    {
        var sources = ordered.Take(target).ToList();
        var total = sources.Sum(a => a.Sentences.Count);
        if (total < SuiviBlock.MinSections)
        {
            return [];
        }

        var sectionCount = Math.Min(target, total);
        var shares = sources.Select(_ => 1).ToArray();
        for (var assigned = sources.Count; assigned < sectionCount; assigned++)
        {
            var best = -1;
            var bestRatio = 0d;
            for (var i = 0; i < sources.Count; i++)
            {
                var ratio = (double)sources[i].Sentences.Count / shares[i];
                if (shares[i] < sources[i].Sentences.Count && ratio > bestRatio)
                {
                    (best, bestRatio) = (i, ratio);
                }
            }

            if (best < 0)
            {
                break;
            }

            shares[best]++;
        }

        var groups = new List<Group>();
        for (var i = 0; i < sources.Count; i++)
        {
            var source = sources[i];
            var budget = Math.Min(source.Sentences.Count, shares[i] * perSection);
            var chosen = source.Sentences
                .OrderByDescending(s => s.Score)
                .ThenBy(s => s.Position)
                .Take(budget)
                .OrderBy(s => s.Position)
                .ToList();

            var offset = 0;
            for (var g = 0; g < shares[i]; g++)
            {
                var size = chosen.Count / shares[i] + (g < chosen.Count % shares[i] ? 1 : 0);
                groups.Add(new Group(source, chosen.GetRange(offset, size), g == 0));
                offset += size;
            }
        }

        return groups;
    }

    private static ExtractiveAnswer Write(string intro, List<Group> groups, List<Analysed> ordered, int maxTitleLength, Language language)
    {
        var text = new StringBuilder(intro);
        if (groups.Count < SuiviBlock.MinSections)
        {
            return WithoutOutline(text, ordered, language);
        }

        var titles = new List<string>();
        var sections = new List<OutlineSection>();
        var cited = new List<long>();
        var taken = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < groups.Count; i++)
        {
            var group = groups[i];
            var title = UniqueTitle(group, maxTitleLength, taken);
            var chunkId = group.Source.Passage.ChunkId;
            titles.Add(title);
            sections.Add(new OutlineSection(SuiviBlock.SectionId(i + 1), title, [chunkId]));
            if (!cited.Contains(chunkId))
            {
                cited.Add(chunkId);
            }

            text.Append("\n\n**").Append((char)('A' + i)).Append(". ").Append(title).Append("**\n");
            text.AppendJoin(' ', group.Sentences.Select(s => s.Text));
            text.Append(' ').Append(language.Source(group.Source.Passage));
        }

        text.Append("\n\n").Append(SuiviBlock.Render(titles));
        return new ExtractiveAnswer(text.ToString(), [.. sections], [.. cited]);
    }

    /// <summary>Too little text for a four-entry outline: quote what exists, with no block rather than a broken one.</summary>
    private static ExtractiveAnswer WithoutOutline(StringBuilder text, List<Analysed> ordered, Language language)
    {
        var cited = new List<long>();
        foreach (var source in ordered)
        {
            text.Append("\n\n").AppendJoin(' ', source.Sentences.Select(s => s.Text));
            text.Append(' ').Append(language.Source(source.Passage));
            cited.Add(source.Passage.ChunkId);
        }

        return new ExtractiveAnswer(text.ToString(), [], [.. cited]);
    }

    private static string UniqueTitle(Group group, int maxTitleLength, HashSet<string> taken)
    {
        var candidates = new List<string>();
        if (group.First && group.Source.Heading is { } heading)
        {
            candidates.Add(heading);
        }

        candidates.AddRange(group.Sentences.OrderByDescending(s => s.Score).ThenBy(s => s.Position).Select(s => TitleFromSentence(s.Text, maxTitleLength)));
        foreach (var candidate in candidates)
        {
            var clean = SuiviBlock.CleanTitle(candidate);
            if (clean.Length > 0 && taken.Add(clean))
            {
                return clean;
            }
        }

        var fallback = SuiviBlock.CleanTitle(candidates.FirstOrDefault() ?? group.Source.Passage.FileName);
        for (var n = 2; ; n++)
        {
            var numbered = string.Create(CultureInfo.InvariantCulture, $"{SuiviBlock.Shorten(fallback, SuiviBlock.MaxTitleLength - 5)} ({n})");
            if (taken.Add(numbered))
            {
                return numbered;
            }
        }
    }

    /// <summary>
    /// The label before a colon ("Pièces à fournir : …"), else the first clause when it is long enough to say
    /// something ("La durée maximale du CDD est de 18 mois, renouvellements compris" → before the comma), else
    /// the sentence shortened on a word boundary.
    /// </summary>
    private static string TitleFromSentence(string sentence, int maxTitleLength)
    {
        var text = sentence.Trim().TrimEnd('.', '!', '?', ' ');
        var max = Math.Clamp(maxTitleLength, 30, SuiviBlock.MaxTitleLength);
        if (text.Length <= max)
        {
            return text;
        }

        var colon = text.IndexOf(':');
        if (colon >= 12 && colon <= max)
        {
            return text[..colon];
        }

        var clause = text.IndexOfAny([',', ';', '(', '–', '—']);
        if (clause >= 25 && clause <= max)
        {
            return text[..clause];
        }

        return SuiviBlock.Shorten(text, max);
    }

    private static string Letter(string sectionId)
    {
        if (sectionId.Length > 1 && (sectionId[0] is 'S' or 's')
            && int.TryParse(sectionId.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 26)
        {
            return ((char)('A' + n - 1)).ToString();
        }

        return sectionId;
    }

    private sealed record Language(
        bool English, string Intro, string NothingFound, string SourceLabel, string DetailTemplate)
    {
        private static readonly Language French = new(
            false,
            "Réponse extractive : les passages ci-dessous sont cités tels quels depuis vos documents, car aucun modèle de langage (LLM) n'est configuré.",
            "Aucun passage pertinent n'a été trouvé dans vos documents pour cette question.",
            "source : ",
            "Détail du point {0} « {1} » — réponse extractive : les passages ci-dessous sont cités tels quels depuis vos documents, car aucun modèle de langage (LLM) n'est configuré.");

        private static readonly Language EnglishText = new(
            true,
            "Extractive answer: the passages below are quoted as they are from your documents, because no language model (LLM) is configured.",
            "No relevant passage was found in your documents for this question.",
            "source: ",
            "Details on point {0} \"{1}\" — extractive answer: the passages below are quoted as they are from your documents, because no language model (LLM) is configured.");

        public static Language Of(string? question) => LanguageGuess.IsEnglish(question) ? EnglishText : French;

        public string DetailIntro(string letter, string title) =>
            string.Format(CultureInfo.InvariantCulture, DetailTemplate, letter, title);

        public string Source(Passage passage)
        {
            var name = string.Join(' ', (passage.FileName ?? string.Empty).Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)).Trim();
            if (name.Length == 0)
            {
                name = "document";
            }

            return string.Create(CultureInfo.InvariantCulture, $"({SourceLabel}{name}, passage {passage.ChunkIndex + 1})");
        }
    }
}
