using AuroraNexus.Grains.Ingestion;

namespace AuroraNexus.Tests.Ingestion;

public sealed class WordPieceTokenizerTests
{
    private static readonly WordPieceTokenizer Tokens = WordPieceTokenizer.MiniLm;

    [Fact]
    public void French_words_are_lower_cased_and_stripped_of_accents_before_word_pieces()
    {
        Assert.Equal(["declaration", "pre", "##ala", "##ble", "a", "l", "'", "et", "##e"], Tokens.Tokenize("Déclaration préalable à l'été"));
    }

    [Fact]
    public void A_french_paragraph_has_no_unknown_token()
    {
        var ids = Tokens.Encode(FrenchSamples.LongDocument, int.MaxValue);

        Assert.DoesNotContain(Tokens.UnknownId, ids);
    }

    [Fact]
    public void Composed_and_decomposed_accents_give_the_same_tokens()
    {
        Assert.Equal(Tokens.Tokenize("élève"), Tokens.Tokenize("e\u0301le\u0300ve"));
    }

    [Fact]
    public void Counts_exclude_the_special_tokens_and_add_up_across_white_space()
    {
        Assert.Equal(0, Tokens.CountTokens(""));
        Assert.Equal(0, Tokens.CountTokens(" \n\t"));
        Assert.Equal(Tokens.CountTokens(FrenchSamples.Intro) * 2, Tokens.CountTokens(FrenchSamples.Intro + "\n\n" + FrenchSamples.Intro));
    }

    [Fact]
    public void Encoding_stops_at_the_requested_number_of_pieces()
    {
        var all = Tokens.Encode(FrenchSamples.Intro, int.MaxValue);

        Assert.Equal(all[..10], Tokens.Encode(FrenchSamples.Intro, 10));
    }

    [Fact]
    public void A_word_over_100_characters_is_one_unknown_token()
    {
        Assert.Equal(["[UNK]"], Tokens.Tokenize(new string('a', 101)));
    }
}
