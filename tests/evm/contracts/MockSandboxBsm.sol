// SPDX-License-Identifier: MIT
// A test stand-in for the ai-agent-sandbox-blueprint's service manager (AgentSandboxBlueprint.sol,
// SandboxLogic.sol): reportProvisioned stores keccak256(bytes(teeAttestationJson)) per service and
// operator, refuses an empty attestation when teeRequired, and getAttestationHash reads it back.
pragma solidity ^0.8.26;

contract MockSandboxBsm {
    error MissingTeeAttestation(uint64 serviceId, address operator);

    event TeeAttestationStored(uint64 indexed serviceId, address indexed operator, bytes32 attestationHash);

    bool public teeRequired;
    mapping(uint64 => mapping(address => bytes32)) private _hashes;

    constructor(bool required) {
        teeRequired = required;
    }

    function reportProvisioned(uint64 serviceId, string calldata sandboxId, string calldata sidecarUrl,
                               uint32 sshPort, string calldata teeAttestationJson) external {
        sandboxId; sidecarUrl; sshPort;
        if (teeRequired && bytes(teeAttestationJson).length == 0) revert MissingTeeAttestation(serviceId, msg.sender);
        bytes32 h = keccak256(bytes(teeAttestationJson));
        _hashes[serviceId][msg.sender] = h;
        emit TeeAttestationStored(serviceId, msg.sender, h);
    }

    function getAttestationHash(uint64 serviceId, address operator) external view returns (bytes32) {
        return _hashes[serviceId][operator];
    }
}
