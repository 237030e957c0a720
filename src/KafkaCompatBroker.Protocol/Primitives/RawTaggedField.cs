namespace KafkaCompatBroker.Protocol;

/// <summary>A tagged field this codec does not know, kept so the message re-encodes unchanged.</summary>
public sealed record RawTaggedField(int Tag, byte[] Data);
