namespace AuroraNexus.Grains.Conversation;

/// <summary>
/// Completes an elliptical question with the subject of the thread's previous one, deterministically:
/// "Et pour un mineur ?" after "Comment changer de nom ?" is retrieved as "Comment changer de nom pour un mineur ?".
/// </summary>
public static class EllipsisRewriter
{
    // Openers that only make sense as a continuation of the previous question, longest first.
    private static readonly string[] Openers =
    [
        "et qu'en est-il", "et qu’en est-il", "qu'en est-il", "qu’en est-il", "what about", "how about", "and what about",
        "et dans le cas", "et en cas", "et si", "et pour", "et dans", "et avec", "et sans", "et", "and for", "and if", "and",
        "même question", "same question",
    ];

    /// <summary>Longest completed question: the API's own limit on questions.</summary>
    public const int MaxLength = 4000;

    // After "et"/"and", these start a question of its own ("Et comment contester une amende ?").
    private static readonly HashSet<string> Interrogatives = new(StringComparer.Ordinal)
    {
        "comment", "quel", "quelle", "quels", "quelles", "pourquoi", "ou", "où", "quand", "combien", "qui", "que", "qu", "quoi",
        "lequel", "laquelle", "lesquels", "lesquelles", "est-ce", "peut-on", "puis-je", "dois-je", "faut-il",
        "how", "what", "why", "where", "when", "who", "which", "can", "could", "do", "does", "is", "are", "should", "may",
    };

    /// <summary>True when the question only makes sense as a continuation of the one before.</summary>
    public static bool IsElliptical(string question) => Split(question) is not null;

    /// <returns>The completed question, or null when the question stands on its own or there is nothing to complete it with.</returns>
    public static string? Rewrite(string question, string? previousQuestion)
    {
        if (string.IsNullOrWhiteSpace(previousQuestion) || Split(question) is not { } kept)
        {
            return null;
        }

        var subject = previousQuestion.Trim().TrimEnd('?', ' ', '.', '!');
        if (kept.Length == 0)
        {
            return subject + " ?";
        }

        var room = MaxLength - kept.Length - 3;
        if (subject.Length > room)
        {
            subject = subject[..Math.Max(0, room)].TrimEnd();
        }

        return $"{subject} {kept} ?";
    }

    /// <summary>What an elliptical question adds to the previous one ("pour un mineur"), or null when it stands alone.</summary>
    private static string? Split(string question)
    {
        var q = question.Trim();
        var lower = q.ToLowerInvariant();
        var opener = Openers.FirstOrDefault(o => lower.StartsWith(o, StringComparison.Ordinal) &&
            (lower.Length == o.Length || !char.IsLetterOrDigit(lower[o.Length])));
        if (opener is null)
        {
            return null;
        }

        // "Et pour un mineur ?" keeps "pour un mineur"; "Qu'en est-il des mineurs ?" keeps "des mineurs". A long
        // question that merely starts with "et" stands on its own.
        var rest = q[opener.Length..].Trim().TrimStart(',', ':').Trim();
        var words = TextFolding.Words(rest);
        if (opener is "et" or "and" && (words.Count > 8 || words.Count > 0 && Interrogatives.Contains(words[0])))
        {
            return null;
        }

        var connector = opener.Split(' ')[0];
        var questionLike = opener.Contains("en est-il", StringComparison.Ordinal) || opener.Contains("about", StringComparison.Ordinal) ||
            opener.Contains("question", StringComparison.Ordinal);
        var kept = questionLike || opener is "et" or "and" ? rest : q[connector.Length..].Trim();
        return kept.TrimEnd('?', ' ', '.', '!');
    }
}
