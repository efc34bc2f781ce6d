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

    /// <returns>The completed question, or null when the question stands on its own or there is nothing to complete it with.</returns>
    public static string? Rewrite(string question, string? previousQuestion)
    {
        if (string.IsNullOrWhiteSpace(previousQuestion))
        {
            return null;
        }

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
        if (opener is "et" or "and" && TextFolding.Words(rest).Count > 8)
        {
            return null;
        }

        var connector = opener.Split(' ')[0];
        var questionLike = opener.Contains("en est-il", StringComparison.Ordinal) || opener.Contains("about", StringComparison.Ordinal) ||
            opener.Contains("question", StringComparison.Ordinal);
        var kept = questionLike || opener is "et" or "and" ? rest : q[connector.Length..].Trim();
        var subject = previousQuestion.Trim().TrimEnd('?', ' ', '.', '!');
        kept = kept.TrimEnd('?', ' ', '.', '!');
        return kept.Length == 0 ? subject + " ?" : $"{subject} {kept} ?";
    }
}
