using AuroraNexus.WebFront.Ui;

namespace AuroraNexus.Tests.Ui;

public sealed class ProgressStreamTests
{
    [Fact]
    public async Task Reports_each_whole_percent_once_in_order_and_ends_at_100_with_the_bytes_unchanged()
    {
        var bytes = new byte[1_000_003];
        new Random(7).NextBytes(bytes);
        var reported = new List<double>();
        await using var stream = ProgressStream.Over(new MemoryStream(bytes), bytes.Length, reported.Add);
        using var copy = new MemoryStream();

        await stream.CopyToAsync(copy, 4096);

        Assert.Equal(bytes, copy.ToArray());
        Assert.Equal(100, reported[^1]);
        Assert.Equal(reported.Distinct().Count(), reported.Count);
        Assert.Equal(reported.Order(), reported);
        Assert.True(reported.Count is > 90 and <= 101, $"{reported.Count} reports");
    }

    [Fact]
    public async Task An_empty_file_is_100_percent_once_read()
    {
        var reported = new List<double>();
        await using var stream = ProgressStream.Over(new MemoryStream(), 0, reported.Add);

        Assert.Equal(0, await stream.ReadAsync(new byte[16]));

        Assert.Equal([100.0], reported);
    }
}
