namespace AuroraNexus.WebFront.Ui;

/// <summary>
/// Reads through another stream and reports how much of <paramref name="length"/> has been read, in whole percents, each
/// percent once (a page's progress bar redraws a hundred times at most, whatever the file's size).
/// </summary>
public sealed class ProgressStream(Stream inner, long length, Action<double> report) : Stream
{
    private long _read;
    private int _reported = -1;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Advance(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Advance(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        await base.DisposeAsync();
    }

    private int Advance(int read)
    {
        _read += read;
        var percent = read == 0 || length <= 0 ? 100 : (int)Math.Min(100, 100 * _read / length);
        if (percent != _reported)
        {
            _reported = percent;
            report(percent);
        }

        return read;
    }
}
