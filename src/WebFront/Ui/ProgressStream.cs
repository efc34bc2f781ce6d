using AuroraNexus.Grains.Storage;

namespace AuroraNexus.WebFront.Ui;

/// <summary>A file's progress bar, fed by the bytes read from it.</summary>
public static class ProgressStream
{
    /// <summary>
    /// Reads through <paramref name="inner"/> and reports how much of <paramref name="length"/> has been read, in whole
    /// percents, each percent once (a page's progress bar redraws a hundred times at most, whatever the file's size).
    /// </summary>
    public static Stream Over(Stream inner, long length, Action<double> report)
    {
        var reported = -1;
        return new ReadObservingStream(inner, (total, read) =>
        {
            var percent = read == 0 || length <= 0 ? 100 : (int)Math.Min(100, 100 * total / length);
            if (percent != reported)
            {
                reported = percent;
                report(percent);
            }
        });
    }
}
