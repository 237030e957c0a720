using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;
using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Network;

/// <summary>
/// Writes a plain TCP connection's responses straight to its socket, bypassing Kestrel's output pipe:
/// bytes with <see cref="Socket.SendAsync(ReadOnlyMemory{byte}, SocketFlags, CancellationToken)"/>, file
/// regions with <see cref="Socket.SendPacketsAsync"/>, which .NET on Linux runs as sendfile(2) (waiting
/// on epoll when the socket buffer is full), so a Fetch response's records go from the page cache to the
/// socket without a copy through managed memory.
/// </summary>
/// <remarks>
/// SendPacketsElement only takes a FileStream (no SafeFileHandle overload), and only an asynchronous one;
/// segment files are opened with FileOptions.Asynchronous for that (on Unix the flag changes nothing
/// else). One FileStream per file handle is made once and cached with the handle's lifetime; it is never
/// disposed and not finalized, because a FileStream closes its handle then — the segment owns the handle.
/// </remarks>
public sealed class SocketResponseWriter(Socket socket, int minimumSendFileBytes = FileRegionPipeWriter.DefaultMinimumSendFileBytes)
    : FileRegionPipeWriter(minimumSendFileBytes)
{
    private static readonly ConditionalWeakTable<SafeFileHandle, FileStream> Streams = new();

    // Made on the first file region, so connections that never fetch large regions do not carry one.
    private SendFileOperation? _sendFile;

    protected override bool CanSendFile(SafeFileHandle file) => file.IsAsync;

    protected override async ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        try
        {
            while (!bytes.IsEmpty)
            {
                var sent = await socket.SendAsync(bytes, SocketFlags.None, cancellationToken);
                bytes = bytes[sent..];
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            throw new ConnectionResetException($"sending a response failed: {e.Message}", e);
        }
    }

    protected override ValueTask SendFileAsync(SafeFileHandle file, long position, int length, CancellationToken cancellationToken)
    {
        var stream = Streams.GetValue(file, static handle =>
        {
            var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0, isAsync: true);
            GC.SuppressFinalize(stream);
            return stream;
        });
        return (_sendFile ??= new SendFileOperation()).SendAsync(socket, new SendPacketsElement(stream, position, length), length);
    }

    protected override void OnCompleted() => _sendFile?.Dispose();

    /// <summary>One reusable SendPacketsAsync operation, awaitable without allocating.</summary>
    private sealed class SendFileOperation : SocketAsyncEventArgs, IValueTaskSource
    {
        private readonly SendPacketsElement[] _elements = new SendPacketsElement[1];
        private ManualResetValueTaskSourceCore<bool> _source;
        private int _expected;

        public SendFileOperation()
            : base(unsafeSuppressExecutionContextFlow: true)
        {
        }

        public ValueTask SendAsync(Socket socket, SendPacketsElement element, int expected)
        {
            _source.Reset();
            _expected = expected;
            _elements[0] = element;
            SendPacketsElements = _elements;
            bool pending;
            try
            {
                pending = socket.SendPacketsAsync(this);
            }
            catch (ObjectDisposedException e)
            {
                return ValueTask.FromException(new ConnectionResetException($"sending a response failed: {e.Message}", e));
            }

            if (!pending)
            {
                Finish();
            }

            return new ValueTask(this, _source.Version);
        }

        public void GetResult(short token) => _source.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _source.OnCompleted(continuation, state, token, flags);

        protected override void OnCompleted(SocketAsyncEventArgs e) => Finish();

        private void Finish()
        {
            _elements[0] = null!;
            if (SocketError == SocketError.InvalidArgument)
            {
                // SendPacketsAsync checks the region against the file's length: the segment was truncated.
                _source.SetException(new IOException($"a file region of {_expected} bytes is past the end of its file (truncated before it was sent)"));
            }
            else if (SocketError != SocketError.Success)
            {
                _source.SetException(new ConnectionResetException($"sending a file region failed: {SocketError}", new SocketException((int)SocketError)));
            }
            else if (BytesTransferred != _expected)
            {
                // sendfile stops at the end of the file: a short region means the file shrank while it was sent,
                // and the response's size prefix already promised the whole region.
                _source.SetException(new IOException($"sent {BytesTransferred} of a {_expected}-byte file region (the file was truncated while it was sent)"));
            }
            else
            {
                _source.SetResult(true);
            }
        }
    }
}
