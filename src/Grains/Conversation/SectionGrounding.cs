using System.Collections.Immutable;
using System.Text.RegularExpressions;

namespace AuroraNexus.Grains.Conversation;

/// <summary>
/// Which passages ground each part of a written answer: the [n] citations inside the part whose heading matches the
/// SUIVI title (or the n-th part when headings and outline line up). A follow-up on that part then retrieves from the
/// same sources. A part without citations falls back to every passage of the answer.
/// </summary>
public static partial class SectionGrounding
{
    public static ImmutableArray<OutlineSection> Ground(string answer, IReadOnlyList<SuiviSection> sections, IReadOnlyList<Passage> passages)
    {
        ImmutableArray<long> all = [.. passages.Select(p => p.ChunkId)];
        var parts = Parts(answer);
        var result = ImmutableArray.CreateBuilder<OutlineSection>(sections.Count);
        for (var i = 0; i < sections.Count; i++)
        {
            var section = sections[i];
            var folded = TextFolding.Fold(section.Title);
            var part = parts.FirstOrDefault(p => folded.Length > 0 && TextFolding.Fold(p.Heading).Contains(folded, StringComparison.Ordinal))
                ?? (parts.Count == sections.Count ? parts[i] : null);
            var cited = part is null ? [] : CitedChunks(part.Body, passages);
            result.Add(new OutlineSection(section.Id, section.Title, cited.IsEmpty ? all : cited));
        }

        return result.MoveToImmutable();
    }

    private static ImmutableArray<long> CitedChunks(string body, IReadOnlyList<Passage> passages) =>
        [.. Citation().Matches(body)
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) - 1)
            .Where(i => i >= 0 && i < passages.Count)
            .Distinct()
            .Select(i => passages[i].ChunkId)];

    /// <summary>The answer's parts before its SUIVI block: each starts at a Markdown heading or a bold/numbered title line.</summary>
    private static List<Part> Parts(string answer)
    {
        var parts = new List<Part>();
        Part? current = null;
        foreach (var raw in answer.ReplaceLineEndings("\n").Split('\n'))
        {
            var line = raw.Trim();
            if (line == SuiviBlock.Header || line.StartsWith(SuiviBlock.Header + " ", StringComparison.Ordinal))
            {
                break;
            }

            if (Heading().IsMatch(line))
            {
                current = new Part(line);
                parts.Add(current);
            }
            else
            {
                current?.Add(line);
            }
        }

        return parts;
    }

    private sealed class Part(string heading)
    {
        private readonly System.Text.StringBuilder _body = new();

        public string Heading { get; } = heading;

        public string Body => _body.ToString();

        public void Add(string line) => _body.Append(line).Append('\n');
    }

    [GeneratedRegex(@"\[(\d{1,2})\]")]
    private static partial Regex Citation();

    [GeneratedRegex(@"^(#{1,6}\s+\S|\*\*\s*\d+[.)]|\d+[.)]\s+\*\*)")]
    private static partial Regex Heading();
}
