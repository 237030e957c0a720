namespace KafkaCompatBroker.Protocol;

/// <summary>Malformed input, or a message that cannot be expressed at the requested version.</summary>
public sealed class KafkaProtocolException(string message) : Exception(message);
