// SPDX-License-Identifier: MIT
// A test stand-in for tnt-core 0.19.1's Tangle contract: the same function signatures, event
// layouts (JobSubmitted with jobIndex NOT indexed: 3 topics, as JobsSubmission.sol emits it)
// and revert rules (custom errors of src/libraries/Errors.sol) for what a job service touches:
// submitJob, submitResult, getJobCall, getService, getBlueprintDefinition. Setup functions
// (set*) replace blueprint creation and service activation, which tests do not exercise.
pragma solidity ^0.8.26;

contract MockTangle {
    struct BlueprintConfig { uint8 membership; uint8 pricing; uint32 minOperators; uint32 maxOperators;
        uint256 subscriptionRate; uint64 subscriptionInterval; uint256 eventRate; }
    struct BlueprintMetadata { string name; string description; string author; string category;
        string codeRepository; string logo; string website; string license; string profilingData; }
    struct JobDefinition { string name; string description; string metadataUri; bytes paramsSchema;
        bytes resultSchema; }
    struct ImageRegistrySource { string registry; string image; string tag; }
    struct WasmSource { uint8 runtime; uint8 fetcher; string artifactUri; string entrypoint; }
    struct NativeSource { uint8 fetcher; string artifactUri; string entrypoint; }
    struct TestingSource { string cargoPackage; string cargoBin; string basePath; }
    struct BlueprintBinary { uint8 arch; uint8 os; string name; bytes32 sha256; }
    struct BlueprintSource { uint8 kind; ImageRegistrySource container; WasmSource wasm;
        NativeSource native; TestingSource testing; BlueprintBinary[] binaries; }
    struct BlueprintDefinition { string metadataUri; bytes32 metadataHash; address manager;
        uint32 masterManagerRevision; bool hasConfig; BlueprintConfig config; BlueprintMetadata metadata;
        JobDefinition[] jobs; bytes registrationSchema; bytes requestSchema; BlueprintSource[] sources;
        uint8[] supportedMemberships; }
    struct Service { uint64 blueprintId; address owner; uint64 createdAt; uint64 ttl; uint64 terminatedAt;
        uint64 lastPaymentAt; uint32 operatorCount; uint32 minOperators; uint32 maxOperators;
        uint8 membership; uint8 pricing; uint8 status; uint8 confidentiality; }
    struct JobCall { uint8 jobIndex; address caller; uint64 createdAt; uint32 resultCount; bool completed;
        bool isRFQ; uint256 payment; }

    error BlueprintNotFound(uint64 blueprintId);
    error ServiceNotFound(uint64 serviceId);
    error ServiceNotActive(uint64 serviceId);
    error NotPermittedCaller(uint64 serviceId, address caller);
    error OperatorNotInService(uint64 serviceId, address operator);
    error JobCallNotFound(uint64 serviceId, uint64 callId);
    error JobAlreadyCompleted(uint64 serviceId, uint64 callId);
    error ResultAlreadySubmitted(uint64 serviceId, uint64 callId, address operator);

    event JobSubmitted(uint64 indexed serviceId, uint64 indexed callId, uint8 jobIndex, address caller, bytes inputs);
    event JobSubmittedFromQuote(uint64 indexed serviceId, uint64 indexed callId, uint8 jobIndex, address caller,
        address[] quotedOperators, uint256 totalPrice, bytes inputs);
    event JobResultSubmitted(uint64 indexed serviceId, uint64 indexed callId, address indexed operator, bytes result);
    event JobCompleted(uint64 indexed serviceId, uint64 indexed callId);

    mapping(uint64 => string) private _bpName;
    mapping(uint64 => string) private _bpProfile;
    mapping(uint64 => bool) private _bpExists;
    mapping(uint64 => Service) private _services;
    mapping(uint64 => mapping(address => bool)) private _operators;
    mapping(uint64 => mapping(address => bool)) private _callers;
    mapping(uint64 => mapping(uint64 => JobCall)) private _jobs;
    mapping(uint64 => mapping(uint64 => mapping(address => bool))) private _submitted;
    mapping(uint64 => mapping(uint64 => bytes)) public results;
    mapping(uint64 => uint64) private _nextCall;
    uint32 public requiredResults = 1;

    function setBlueprint(uint64 id, string calldata name, string calldata profilingData) external {
        _bpExists[id] = true;
        _bpName[id] = name;
        _bpProfile[id] = profilingData;
    }

    function setService(uint64 serviceId, uint64 blueprintId, uint8 confidentiality, address[] calldata operators,
                        address[] calldata callers) external {
        Service storage s = _services[serviceId];
        s.blueprintId = blueprintId;
        s.owner = msg.sender;
        s.createdAt = uint64(block.timestamp);
        s.operatorCount = uint32(operators.length);
        s.minOperators = 1;
        s.maxOperators = 10;
        s.status = 1; // Active
        s.confidentiality = confidentiality;
        for (uint256 i = 0; i < operators.length; i++) _operators[serviceId][operators[i]] = true;
        for (uint256 i = 0; i < callers.length; i++) _callers[serviceId][callers[i]] = true;
    }

    function getService(uint64 serviceId) external view returns (Service memory) {
        if (_services[serviceId].status == 0) revert ServiceNotFound(serviceId);
        return _services[serviceId];
    }

    function getBlueprintDefinition(uint64 id) external view returns (BlueprintDefinition memory d) {
        if (!_bpExists[id]) revert BlueprintNotFound(id);
        // as BlueprintsManage.sol: only name and profilingData kept; sources come back empty
        d.metadata.name = _bpName[id];
        d.metadata.profilingData = _bpProfile[id];
        d.jobs = new JobDefinition[](1);
        d.supportedMemberships = new uint8[](1);
    }

    function submitJob(uint64 serviceId, uint8 jobIndex, bytes calldata inputs) external payable returns (uint64 callId) {
        Service storage s = _services[serviceId];
        if (s.status == 0) revert ServiceNotFound(serviceId);
        if (s.status != 1) revert ServiceNotActive(serviceId);
        if (!_callers[serviceId][msg.sender]) revert NotPermittedCaller(serviceId, msg.sender);
        callId = _nextCall[serviceId]++;
        _jobs[serviceId][callId] = JobCall(jobIndex, msg.sender, uint64(block.timestamp), 0, false, false, msg.value);
        emit JobSubmitted(serviceId, callId, jobIndex, msg.sender, inputs);
    }

    function submitResult(uint64 serviceId, uint64 callId, bytes calldata result) external {
        if (!_operators[serviceId][msg.sender]) revert OperatorNotInService(serviceId, msg.sender);
        JobCall storage j = _jobs[serviceId][callId];
        if (j.caller == address(0)) revert JobCallNotFound(serviceId, callId);
        if (j.completed) revert JobAlreadyCompleted(serviceId, callId);
        if (_submitted[serviceId][callId][msg.sender]) revert ResultAlreadySubmitted(serviceId, callId, msg.sender);
        _submitted[serviceId][callId][msg.sender] = true;
        j.resultCount++;
        results[serviceId][callId] = result;
        emit JobResultSubmitted(serviceId, callId, msg.sender, result);
        if (j.resultCount >= requiredResults) {
            j.completed = true;
            emit JobCompleted(serviceId, callId);
        }
    }

    function getJobCall(uint64 serviceId, uint64 callId) external view returns (JobCall memory) {
        if (_jobs[serviceId][callId].caller == address(0)) revert JobCallNotFound(serviceId, callId);
        return _jobs[serviceId][callId];
    }

    // Test helpers: the quote event as JobsRFQ.sol emits it; a plain Error(string) revert.
    function emitQuoteJob(uint64 serviceId, uint8 jobIndex, address[] calldata quoted, uint256 price,
                          bytes calldata inputs) external returns (uint64 callId) {
        callId = _nextCall[serviceId]++;
        _jobs[serviceId][callId] = JobCall(jobIndex, msg.sender, uint64(block.timestamp), 0, false, true, price);
        emit JobSubmittedFromQuote(serviceId, callId, jobIndex, msg.sender, quoted, price, inputs);
    }

    function failWith(string calldata why) external pure {
        revert(why);
    }
}
